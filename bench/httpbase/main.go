// Command httpbase serves the two reference points Ferry's HTTP load
// benchmark is measured against, on the same router Ferry uses:
//
//   - GET /raw/{id}: writes stored bytes as they are (the ceiling for a read);
//   - PUT /mem/{id}: decodes JSON into a hand-written struct, validates it
//     and keeps it in memory (a write with no durability).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-playground/validator/v10"
)

type item struct {
	Sku   string  `json:"sku" validate:"required"`
	Qty   int64   `json:"qty" validate:"min=1"`
	Price float64 `json:"price"`
}

type order struct {
	Customer    string            `json:"customer" validate:"required,email"`
	AmountCents int64             `json:"amount_cents" validate:"gte=0"`
	Currency    string            `json:"currency" validate:"len=3"`
	PlacedAt    time.Time         `json:"placed_at"`
	Paid        bool              `json:"paid"`
	Note        *string           `json:"note"`
	Channel     string            `json:"channel"`
	Items       []item            `json:"items" validate:"max=100,dive"`
	Attrs       map[string]string `json:"attrs"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	record := flag.String("record", "bench/testdata/order.json", "the record served by /raw")
	flag.Parse()
	raw, err := os.ReadFile(*record)
	if err != nil {
		log.Fatal(err)
	}
	validate := validator.New(validator.WithRequiredStructEnabled())
	var mu sync.Mutex
	kept := make(map[string]order)

	r := chi.NewRouter()
	r.Get("/raw/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"1"`)
		_, _ = w.Write(raw)
	})
	r.Put("/mem/{id}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var o order
		if err := json.Unmarshal(body, &o); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := validate.Struct(&o); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		kept[chi.URLParam(r, "id")] = o
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	fmt.Fprintln(os.Stderr, "httpbase listening on", *addr)
	log.Fatal(http.ListenAndServe(*addr, r))
}
