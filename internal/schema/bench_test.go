package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// benchSchema makes records of about 1 KB in JSON. rules are the rules of
// id and customer, so that their cost can be measured apart.
func benchSchema(idRule, customerRule string) string {
	return `{"name":"bench","version":1,"fields":{
 "id":{"type":"string","validate":"` + idRule + `"},
 "customer":{"type":"string","validate":"` + customerRule + `"},
 "amount_cents":{"type":"int","validate":"gte=0"},
 "currency":{"type":"string","validate":"len=3"},
 "placed_at":{"type":"time"},
 "paid":{"type":"bool"},
 "note":{"type":"string","optional":true},
 "channel":{"type":"string"},
 "items":{"type":"array","validate":"max=100,dive","items":{"type":"object","fields":{
   "sku":{"type":"string","validate":"required"},"qty":{"type":"int","validate":"min=1"},"price":{"type":"float"}}}},
 "tags":{"type":"array","items":{"type":"string"}},
 "attrs":{"type":"map","values":{"type":"string"}}}}`
}

// BenchOrder is the hand-written struct with the tags the compiled one has.
type BenchOrder struct {
	AmountCents int64             `json:"amount_cents" msgpack:"amount_cents" cbor:"amount_cents" validate:"gte=0"`
	Attrs       map[string]string `json:"attrs" msgpack:"attrs" cbor:"attrs"`
	Channel     string            `json:"channel" msgpack:"channel" cbor:"channel"`
	Currency    string            `json:"currency" msgpack:"currency" cbor:"currency" validate:"len=3"`
	Customer    string            `json:"customer" msgpack:"customer" cbor:"customer" validate:"required,email"`
	Id          string            `json:"id" msgpack:"id" cbor:"id" validate:"required,uuid"`
	Items       []BenchItem       `json:"items" msgpack:"items" cbor:"items" validate:"max=100,dive"`
	Note        *string           `json:"note" msgpack:"note" cbor:"note"`
	Paid        bool              `json:"paid" msgpack:"paid" cbor:"paid"`
	PlacedAt    time.Time         `json:"placed_at" msgpack:"placed_at" cbor:"placed_at"`
	Tags        []string          `json:"tags" msgpack:"tags" cbor:"tags"`
}

type BenchItem struct {
	Price float64 `json:"price" msgpack:"price" cbor:"price"`
	Qty   int64   `json:"qty" msgpack:"qty" cbor:"qty" validate:"min=1"`
	Sku   string  `json:"sku" msgpack:"sku" cbor:"sku" validate:"required"`
}

// BenchOrderWire is BenchOrder as Ferry decodes it: every scalar a
// pointer, so that an absent field can be told from a zero one. It is what
// the compiled wire struct is, written by hand.
type BenchOrderWire struct {
	AmountCents *int64            `json:"amount_cents" msgpack:"amount_cents" cbor:"amount_cents"`
	Attrs       map[string]string `json:"attrs" msgpack:"attrs" cbor:"attrs"`
	Channel     *string           `json:"channel" msgpack:"channel" cbor:"channel"`
	Currency    *string           `json:"currency" msgpack:"currency" cbor:"currency"`
	Customer    *string           `json:"customer" msgpack:"customer" cbor:"customer"`
	Id          *string           `json:"id" msgpack:"id" cbor:"id"`
	Items       []*BenchItemWire  `json:"items" msgpack:"items" cbor:"items"`
	Note        *string           `json:"note" msgpack:"note" cbor:"note"`
	Paid        *bool             `json:"paid" msgpack:"paid" cbor:"paid"`
	PlacedAt    *time.Time        `json:"placed_at" msgpack:"placed_at" cbor:"placed_at"`
	Tags        []string          `json:"tags" msgpack:"tags" cbor:"tags"`
}

type BenchItemWire struct {
	Price *float64 `json:"price" msgpack:"price" cbor:"price"`
	Qty   *int64   `json:"qty" msgpack:"qty" cbor:"qty"`
	Sku   *string  `json:"sku" msgpack:"sku" cbor:"sku"`
}

// record turns the wire struct into the record struct, as Validate does,
// failing on an absent field.
func (w *BenchOrderWire) record() (*BenchOrder, error) {
	if w.AmountCents == nil || w.Channel == nil || w.Currency == nil || w.Customer == nil ||
		w.Id == nil || w.Paid == nil || w.PlacedAt == nil || w.Items == nil || w.Tags == nil || w.Attrs == nil {
		return nil, fmt.Errorf("a field is missing")
	}
	o := &BenchOrder{
		AmountCents: *w.AmountCents, Attrs: w.Attrs, Channel: *w.Channel, Currency: *w.Currency,
		Customer: *w.Customer, Id: *w.Id, Note: w.Note, Paid: *w.Paid, PlacedAt: w.PlacedAt.UTC(), Tags: w.Tags,
		Items: make([]BenchItem, len(w.Items)),
	}
	for i, it := range w.Items {
		if it == nil || it.Price == nil || it.Qty == nil || it.Sku == nil {
			return nil, fmt.Errorf("items[%d]: a field is missing", i)
		}
		o.Items[i] = BenchItem{Price: *it.Price, Qty: *it.Qty, Sku: *it.Sku}
	}
	return o, nil
}

func benchRecord() map[string]any {
	items := make([]any, 14)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprintf("SKU-%04d-XL", i), "qty": int64(i + 1), "price": 19.99 + float64(i)}
	}
	return map[string]any{
		"id":           "0190a4b8-7c9e-7d1a-9b3c-2f4e5d6a7b8c",
		"customer":     "someone@example.com",
		"amount_cents": int64(123456),
		"currency":     "EUR",
		"placed_at":    time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		"paid":         true,
		"note":         "leave at the door, ring twice",
		"channel":      "web",
		"items":        items,
		"tags":         []any{"gift", "express", "fragile"},
		"attrs":        map[string]any{"campaign": "spring", "source": "newsletter", "ref": "abc123", "segment": "b2c", "locale": "nl-NL"},
	}
}

func mustBenchVersion(b *testing.B, idRule, customerRule string) *Version {
	b.Helper()
	r := NewRegistry(newMemStore())
	v, err := r.Register(context.Background(), mustParse(b, benchSchema(idRule, customerRule)), false)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkRecordPath measures what a request costs in this package's
// part: decode a ~1 KB body with the codecs of package negotiate,
// validate, encode. "compiled" goes through the compiled wire struct and
// Validate (presence, defaults, rules); "handwritten-presence" is the same
// path on hand-written structs (a pointer wire struct, a record struct and
// the validator), so the two differ only in the compiled types; and
// "handwritten" decodes straight into BenchOrder with no presence check,
// which shows what presence itself costs.
func BenchmarkRecordPath(b *testing.B) {
	v := mustBenchVersion(b, "required,uuid", "required,email")
	rec, err := v.FromMap(benchRecord(), false)
	if err != nil {
		b.Fatal(err)
	}
	plain := validator.New(validator.WithRequiredStructEnabled())
	for _, c := range negotiate.NewDefaultRegistry(negotiate.Options{}).Codecs()[:3] {
		body, err := c.Marshal(rec)
		if err != nil {
			b.Fatal(err)
		}
		if c.Name() == "json" && (len(body) < 900 || len(body) > 1200) {
			b.Fatalf("the JSON body is %d bytes, want about 1 KB", len(body))
		}
		b.Run(c.Name()+"/compiled", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				w := v.New()
				if err := c.Decode(body, w); err != nil {
					b.Fatal(err)
				}
				out, err := v.Validate(w, false)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Marshal(out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name()+"/handwritten-presence", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var w BenchOrderWire
				if err := c.Decode(body, &w); err != nil {
					b.Fatal(err)
				}
				o, err := w.record()
				if err != nil {
					b.Fatal(err)
				}
				if err := plain.Struct(o); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Marshal(o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name()+"/handwritten", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var o BenchOrder
				if err := c.Decode(body, &o); err != nil {
					b.Fatal(err)
				}
				if err := plain.Struct(&o); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Marshal(&o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidate measures Validate alone on a decoded wire struct, with
// and without the email and uuid rules.
func BenchmarkValidate(b *testing.B) {
	js := negotiate.NewJSONCodec()
	for _, tc := range []struct{ name, id, customer string }{
		{"no-format-rules", "required", "required"},
		{"email+uuid", "required,uuid", "required,email"},
	} {
		v := mustBenchVersion(b, tc.id, tc.customer)
		rec, err := v.FromMap(benchRecord(), false)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := js.Marshal(rec)
		w := v.New()
		if err := js.Decode(body, w); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Validate(w, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConversions measures Write and View of a ~1 KB record at the
// latest version and one version down.
func BenchmarkConversions(b *testing.B) {
	v2 := strings.Replace(benchSchema("required,uuid", "required,email"), `"version":1`, `"version":2`, 1)
	v2 = strings.Replace(v2, `"channel":{"type":"string"}`, `"sales_channel":{"type":"string"}`, 1)
	v2 = strings.TrimSuffix(v2, "}") + `,"migrate":[{"op":"rename","from":"channel","to":"sales_channel"}]}`
	r := NewRegistry(newMemStore())
	for _, d := range []string{benchSchema("required,uuid", "required,email"), v2} {
		if _, err := r.Register(context.Background(), mustParse(b, d), false); err != nil {
			b.Fatal(err, problemLists(err))
		}
	}
	s, _ := r.Schema("bench")
	v1, _ := s.Version(1)
	rec, err := v1.FromMap(benchRecord(), false)
	if err != nil {
		b.Fatal(err)
	}
	d, err := s.Write(rec, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	bin, _ := d.MarshalBinary()
	b.Run("write-v1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Write(rec, 1, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, to := range []int{2, 1} {
		b.Run(fmt.Sprintf("decode+view-v%d", to), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var doc Doc
				if err := doc.UnmarshalBinary(bin); err != nil {
					b.Fatal(err)
				}
				if _, err := s.View(&doc, to); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExportJSON compares the two ways a stored ~1 KB record becomes
// JSON: AppendJSON straight from the stored bytes, and decoding, View and
// the JSON codec.
func BenchmarkExportJSON(b *testing.B) {
	r := NewRegistry(newMemStore())
	if _, err := r.Register(context.Background(), mustParse(b, benchSchema("required,uuid", "required,email")), false); err != nil {
		b.Fatal(err)
	}
	s, _ := r.Schema("bench")
	v, _ := s.Version(1)
	rec, err := v.FromMap(benchRecord(), false)
	if err != nil {
		b.Fatal(err)
	}
	d, err := s.Write(rec, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	stored, _ := d.MarshalBinary()
	codec := negotiate.NewJSONCodec()
	want, _ := codec.Marshal(rec)
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		var buf []byte
		for b.Loop() {
			if buf, err = s.AppendJSON(buf[:0], stored, 1); err != nil {
				b.Fatal(err)
			}
		}
		if string(buf) != string(want) {
			b.Fatalf("AppendJSON wrote\n%s\nwant\n%s", buf, want)
		}
	})
	b.Run("view+encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			var doc Doc
			if err := doc.UnmarshalBinary(stored); err != nil {
				b.Fatal(err)
			}
			view, err := s.View(&doc, 1)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := codec.Marshal(view); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeJSON measures the write path's share of this package for
// a ~1 KB JSON body: "codec" decodes into the wire struct and validates
// it; "direct" reads it with DecodeJSON and validates the record struct.
func BenchmarkDecodeJSON(b *testing.B) {
	v := mustBenchVersion(b, "required,uuid", "required,email")
	rec, err := v.FromMap(benchRecord(), false)
	if err != nil {
		b.Fatal(err)
	}
	js := negotiate.NewJSONCodec()
	body, err := js.Marshal(rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			w := v.New()
			if err := js.Decode(body, w); err != nil {
				b.Fatal(err)
			}
			if _, err := v.Validate(w, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			r, ok := v.DecodeJSON(body)
			if !ok {
				b.Fatal("DecodeJSON declined the body")
			}
			if _, err := v.Validate(r, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
