package lpsim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	t.Parallel()
	srv, err := Start(New(testOptions()), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL() + "/api/account/" + testAccount + "/service/accountConfigReadWrite/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got baseURI
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if "https://"+got.BaseURI != srv.URL() {
		t.Errorf("baseURI %q, server %s", got.BaseURI, srv.URL())
	}
	if _, err := Start(New(Options{}), strings.TrimPrefix(srv.URL(), "https://")); err == nil {
		t.Errorf("second Start on a used address succeeded")
	}
}

func TestListenAndServeStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", New(Options{})) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not stop")
	}
	if err := ListenAndServe(context.Background(), "256.0.0.1:1", New(Options{})); err == nil {
		t.Errorf("bad address accepted")
	}
}
