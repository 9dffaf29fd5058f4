// Command otlpsink is a stand-in OTLP/HTTP trace receiver for `make bench`:
// it accepts every export (POST /v1/traces), reads it whole and answers an
// empty success, so that a traced portald pays for exporting but not for a
// real collector. It prints the exports and bytes it took when stopped.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:14318", "listen address")
	flag.Parse()
	var exports, bytes atomic.Int64
	http.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		exports.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	go func() { log.Fatal(http.ListenAndServe(*addr, nil)) }()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	log.Printf("otlpsink: %d exports, %d bytes", exports.Load(), bytes.Load())
}
