package session

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestCodecRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 12, 27, 10, 0, 0, 123, time.UTC)
	values := map[string]any{
		"history": []byte{1, 2, 3, 0, 255},
		"empty":   []byte{},
		"user":    "ada ✓",
		"admin":   true,
		"off":     false,
		"n":       int64(-42),
		"at":      time.Date(2026, 11, 27, 8, 0, 0, 5, time.UTC),
		"":        "an empty key",
	}
	b, err := Codec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err := Codec{}.Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !gotDeadline.Equal(deadline) {
		t.Errorf("deadline: got %v, want %v", gotDeadline, deadline)
	}
	eq := func(a, b any) bool {
		switch a := a.(type) {
		case []byte:
			return bytes.Equal(a, b.([]byte))
		case time.Time:
			return a.Equal(b.(time.Time))
		}
		return a == b
	}
	if !maps.EqualFunc(got, values, eq) {
		t.Errorf("values: got %v, want %v", got, values)
	}

	// A decoded []byte must not alias the encoded data, which a store may reuse.
	b[len(b)-1] ^= 0xff
	if v := got["history"].([]byte); !bytes.Equal(v, []byte{1, 2, 3, 0, 255}) {
		t.Errorf("decoded bytes changed with the buffer: %v", v)
	}
}

func TestCodecRefuses(t *testing.T) {
	if _, err := (Codec{}).Encode(time.Now(), map[string]any{"x": 3.5}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("Encode of a float: got %v, want an error naming the key", err)
	}
	good, _ := Codec{}.Encode(time.Now(), map[string]any{"history": []byte("abc"), "ok": true})
	gob, _ := scs.GobCodec{}.Encode(time.Now(), map[string]any{"history": []byte("abc")})
	for name, b := range map[string][]byte{
		"empty":         nil,
		"gob":           gob,
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"unknown tag":   {codecVersion, 0, 1, 1, 'k', 99},
		"huge count":    {codecVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"length beyond": {codecVersion, 0, 1, 1, 'k', tagBytes, 0x7f},
	} {
		if _, _, err := (Codec{}).Decode(b); err == nil {
			t.Errorf("Decode(%s): no error", name)
		}
	}
}

// BenchmarkCodec compares one save and one load of a session holding a full
// history with scs's gob codec.
func BenchmarkCodec(b *testing.B) {
	values := map[string]any{"history": bytes.Repeat([]byte{7}, 1300)}
	for _, c := range []struct {
		name  string
		codec scs.Codec
	}{{"compact", Codec{}}, {"gob", scs.GobCodec{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.codec.Encode(time.Now(), values)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.codec.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
