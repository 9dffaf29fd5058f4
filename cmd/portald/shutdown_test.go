package main

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// TestGracefulShutdownUnderLoad sends SIGTERM's equivalent (the run context
// ends) while clients keep many slow requests in flight: every request the
// server accepted completes with 200, later ones are refused cleanly, and
// the server exits within SHUTDOWN_GRACE.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	var entered, finished atomic.Int64
	s := start(t, map[string]string{"SHUTDOWN_GRACE": "5s"}, func(r chi.Router) {
		r.Get("/work", func(w http.ResponseWriter, r *http.Request) {
			entered.Add(1)
			defer finished.Add(1)
			<-time.After(200 * time.Millisecond) // a request that takes a while
			_, _ = w.Write([]byte("done"))
		})
	})
	var ok, failedAfterAccept, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(s.public + "/work")
				if err != nil {
					refused.Add(1) // never reached a handler (connection refused or closed)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(b) == "done" {
					ok.Add(1)
				} else {
					failedAfterAccept.Add(1)
				}
			}
		})
	}
	for ok.Load() < 64 || entered.Load()-finished.Load() < 8 { // under load, with requests in flight
		<-time.After(5 * time.Millisecond)
	}
	inFlight := entered.Load() - finished.Load()
	signalled := time.Now()
	s.stop()
	<-s.done
	exitedAfter := time.Since(signalled)
	close(stop)
	wg.Wait()

	if s.err != nil {
		t.Fatalf("run returned %v", s.err)
	}
	if failedAfterAccept.Load() != 0 {
		t.Fatalf("%d accepted requests failed", failedAfterAccept.Load())
	}
	if entered.Load() != finished.Load() || ok.Load() != entered.Load() {
		t.Fatalf("%d requests entered, %d finished, %d answered 200", entered.Load(), finished.Load(), ok.Load())
	}
	if exitedAfter > 5*time.Second {
		t.Fatalf("exited %v after the signal; SHUTDOWN_GRACE is 5s", exitedAfter)
	}
	t.Logf("%d requests in flight at the signal, all completed (%d answered 200 in all); %d later attempts refused; exit %v after the signal",
		inFlight, ok.Load(), refused.Load(), exitedAfter.Round(time.Millisecond))
}
