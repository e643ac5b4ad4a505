package negotiate

import (
	"bytes"
	"encoding/gob"
	stdjson "encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/vmihailenco/msgpack/v5"
)

// benchRecord is a record of about 1 KB in JSON, tagged the way Ferry's
// compiled schemas are.
type benchRecord struct {
	ID        string            `json:"id" msgpack:"id" cbor:"id"`
	Customer  string            `json:"customer" msgpack:"customer" cbor:"customer"`
	Email     string            `json:"email" msgpack:"email" cbor:"email"`
	Status    string            `json:"status" msgpack:"status" cbor:"status"`
	Total     float64           `json:"total" msgpack:"total" cbor:"total"`
	Discount  float64           `json:"discount" msgpack:"discount" cbor:"discount"`
	Paid      bool              `json:"paid" msgpack:"paid" cbor:"paid"`
	Version   int64             `json:"version" msgpack:"version" cbor:"version"`
	CreatedAt time.Time         `json:"created_at" msgpack:"created_at" cbor:"created_at"`
	UpdatedAt time.Time         `json:"updated_at" msgpack:"updated_at" cbor:"updated_at"`
	Note      *string           `json:"note,omitempty" msgpack:"note,omitempty" cbor:"note,omitempty"`
	Address   benchAddress      `json:"address" msgpack:"address" cbor:"address"`
	Items     []benchItem       `json:"items" msgpack:"items" cbor:"items"`
	Tags      []string          `json:"tags" msgpack:"tags" cbor:"tags"`
	Labels    map[string]string `json:"labels" msgpack:"labels" cbor:"labels"`
}

type benchAddress struct {
	Street  string `json:"street" msgpack:"street" cbor:"street"`
	City    string `json:"city" msgpack:"city" cbor:"city"`
	Postal  string `json:"postal_code" msgpack:"postal_code" cbor:"postal_code"`
	Country string `json:"country" msgpack:"country" cbor:"country"`
}

type benchItem struct {
	SKU   string  `json:"sku" msgpack:"sku" cbor:"sku"`
	Name  string  `json:"name" msgpack:"name" cbor:"name"`
	Qty   int64   `json:"qty" msgpack:"qty" cbor:"qty"`
	Price float64 `json:"unit_price" msgpack:"unit_price" cbor:"unit_price"`
}

func newBenchRecord() benchRecord {
	note := "please ring the bell twice; the dog is friendly"
	r := benchRecord{
		ID: "ord_01HZY3K9Q8W7E6R5T4Y3U2I1O0", Customer: "Ada Lovelace", Email: "ada@example.com",
		Status: "shipped", Total: 1234.56, Discount: 12.5, Paid: true, Version: 7,
		CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		UpdatedAt: time.Date(2024, 5, 7, 7, 8, 9, 987654321, time.UTC),
		Note:      &note,
		Address:   benchAddress{Street: "12 Analytical Engine Row", City: "London", Postal: "NW1 6XE", Country: "GB"},
		Tags:      []string{"priority", "gift", "fragile"},
		Labels:    map[string]string{"channel": "web", "campaign": "spring-sale", "warehouse": "lhr-2"},
	}
	for i := range 6 {
		r.Items = append(r.Items, benchItem{SKU: fmt.Sprintf("SKU-%05d", i*7919), Name: "Difference engine part", Qty: int64(i + 1), Price: 19.99 * float64(i+1)})
	}
	return r
}

// BenchmarkRecord encodes and decodes a 1 KB record through Ferry's
// codecs (wire check and strict decoding included) and through the bare
// libraries with their defaults, in the same run.
func BenchmarkRecord(b *testing.B) {
	rec := newBenchRecord()
	if data, _ := NewJSONCodec().Marshal(rec); len(data) < 900 || len(data) > 1200 {
		b.Fatalf("record is %d bytes of JSON, want about 1 KB", len(data))
	}
	v2opts := jsonv2.DefaultOptionsV2()
	cborDefault, _ := cbor.EncOptions{}.EncMode()
	cborDecDefault, _ := cbor.DecOptions{}.DecMode()
	type roundTrip struct {
		name      string
		marshal   func(any) ([]byte, error)
		unmarshal func([]byte, any) error
	}
	ferry := func(c Codec) roundTrip { return roundTrip{"ferry", c.Marshal, c.Decode} }
	groups := []struct {
		format string
		trips  []roundTrip
	}{
		{"json", []roundTrip{
			ferry(NewJSONCodec()),
			{"encoding-json", stdjson.Marshal, stdjson.Unmarshal},
			{"json-v2", func(v any) ([]byte, error) { return jsonv2.Marshal(v, v2opts) },
				func(d []byte, v any) error { return jsonv2.Unmarshal(d, v, v2opts) }},
		}},
		{"msgpack", []roundTrip{
			ferry(NewMsgpackCodec()),
			{"vmihailenco", msgpack.Marshal, msgpack.Unmarshal},
		}},
		{"cbor", []roundTrip{
			ferry(NewCBORCodec()),
			{"fxamacker", cborDefault.Marshal, cborDecDefault.Unmarshal},
		}},
	}
	for _, g := range groups {
		for _, rt := range g.trips {
			b.Run(g.format+"/"+rt.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					data, err := rt.marshal(rec)
					if err != nil {
						b.Fatal(err)
					}
					var got benchRecord
					if err := rt.unmarshal(data, &got); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecode measures Ferry's decoding alone: into the record's struct
// and into the schemaless model.
func BenchmarkDecode(b *testing.B) {
	rec := newBenchRecord()
	for _, c := range []Codec{NewJSONCodec(), NewMsgpackCodec(), NewCBORCodec()} {
		data, err := c.Marshal(rec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name()+"/struct", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var got benchRecord
				if err := c.Decode(data, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name()+"/any", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var got any
				if err := c.Decode(data, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGobEncode measures Ferry's gob encoding (package gobenc, with
// the codec's range checks) against encoding/gob writing the same record
// as one stream, as each gob body is, and one value of a gob stream.
func BenchmarkGobEncode(b *testing.B) {
	rec := newBenchRecord()
	b.Run("ferry", func(b *testing.B) {
		c := NewGobCodec(nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Marshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ferry-stream", func(b *testing.B) {
		enc := NewGobStreamCodec(NewGobCodec(nil)).NewEncoder(io.Discard)
		b.ReportAllocs()
		for b.Loop() {
			if err := enc.Encode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-gob", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
