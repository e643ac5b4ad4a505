package wire

import (
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-json-experiment/json"
	"github.com/vmihailenco/msgpack/v5"
)

// benchRecord returns a typical record of about 1 KB in JSON: a dozen
// scalar fields, a nested object, a list of line items and timestamps.
func benchRecord() map[string]any {
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	items := make([]any, 3)
	for i := range items {
		items[i] = map[string]any{
			"sku":        fmt.Sprintf("SKU-%05d", 1000+i),
			"name":       "Stainless steel widget, large",
			"qty":        int64(i + 1),
			"unit_price": 19.99 + float64(i),
		}
	}
	return map[string]any{
		"id":          "ord_01HQ3Z8Y6V4K2M9N7P5R3T1W0X",
		"customer_id": "cus_8f14e45fceea167a5a36dedd4bea2543",
		"status":      "shipped",
		"currency":    "EUR",
		"total":       92.47,
		"paid":        true,
		"discount":    nil,
		"priority":    int64(3),
		"weight_g":    int64(12840),
		"created_at":  created,
		"updated_at":  created.Add(26 * time.Hour),
		"tags":        []any{"gift", "express", "fragile"},
		"note":        "Leave the parcel with the neighbour at number 12 if nobody answers the door.",
		"address": map[string]any{
			"street":  "Rue de la République 42",
			"city":    "Lyon",
			"zip":     "69002",
			"country": "FR",
			"geo":     map[string]any{"lat": 45.7640, "lon": 4.8357},
		},
		"items": items,
	}
}

func BenchmarkCheckMsgpack(b *testing.B) {
	record, err := msgpack.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	bigMap := map[string]any{}
	for i := range 10_000 {
		bigMap[fmt.Sprintf("field_%05d", i)] = int64(i)
	}
	big, err := msgpack.Marshal(bigMap)
	if err != nil {
		b.Fatal(err)
	}
	ints := make([]int64, 10_000)
	for i := range ints {
		ints[i] = int64(i) * 7919
	}
	array, err := msgpack.Marshal(ints)
	if err != nil {
		b.Fatal(err)
	}
	benchChecks(b, CheckMsgpack, []benchInput{
		{"record", record},
		{"map_10k_keys", big},
		{"array_10k_ints", array},
		{"hostile_2MiB_0x91", rep(0x91, 2<<20)},
		{"hostile_map32", h("df ffffffff")},
	})
}

func BenchmarkCheckCBOR(b *testing.B) {
	opts := cbor.CoreDetEncOptions()
	opts.Time, opts.TimeTag = cbor.TimeRFC3339Nano, cbor.EncTagRequired
	em, err := opts.EncMode()
	if err != nil {
		b.Fatal(err)
	}
	record, err := em.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	bigMap := map[string]any{}
	for i := range 10_000 {
		bigMap[fmt.Sprintf("field_%05d", i)] = int64(i)
	}
	big, err := em.Marshal(bigMap)
	if err != nil {
		b.Fatal(err)
	}
	ints := make([]int64, 10_000)
	for i := range ints {
		ints[i] = int64(i) * 7919
	}
	array, err := em.Marshal(ints)
	if err != nil {
		b.Fatal(err)
	}
	benchChecks(b, CheckCBOR, []benchInput{
		{"record", record},
		{"map_10k_keys", big},
		{"array_10k_ints", array},
		{"hostile_2MiB_0x81", rep(0x81, 2<<20)},
		{"hostile_map64", h("bb ffffffffffffffff")},
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	record, err := json.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	records := make([]any, 1000)
	for i := range records {
		records[i] = benchRecord()
	}
	many, err := json.Marshal(records)
	if err != nil {
		b.Fatal(err)
	}
	benchChecks(b, CheckJSON, []benchInput{
		{"record", record},
		{"1000_records", many},
		{"hostile_2MiB_brackets", rep('[', 2<<20)},
	})
}

// BenchmarkLibraryDecode measures the library decoders on the same record,
// for scale.
func BenchmarkLibraryDecode(b *testing.B) {
	mp, err := msgpack.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	cb, err := cbor.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	decoders := []struct {
		name   string
		data   []byte
		decode func([]byte) error
	}{
		{"msgpack", mp, func(d []byte) error { _, err := decodeMsgpack(d); return err }},
		{"cbor", cb, func(d []byte) error { _, err := decodeCBOR(d); return err }},
		{"json", js, func(d []byte) error { var v any; return json.Unmarshal(d, &v) }},
	}
	for _, dec := range decoders {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(dec.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := dec.decode(dec.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchInput struct {
	name string
	data []byte
}

// benchChecks runs check on each input in a sub-benchmark; inputs named
// "hostile..." are expected to fail.
func benchChecks(b *testing.B, check func([]byte) error, inputs []benchInput) {
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			wantErr := len(in.name) > 7 && in.name[:7] == "hostile"
			if err := check(in.data); (err != nil) != wantErr {
				b.Fatalf("check(%s) = %v, want error: %v", shortHex(in.data), err, wantErr)
			}
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				_ = check(in.data)
			}
		})
	}
}
