package history

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func nums(h *History) []int {
	var out []int
	for _, e := range h.Entries {
		out = append(out, e.Num)
	}
	return out
}

func TestPush(t *testing.T) {
	var h History
	for i, n := range []int{1, 2, 2, 3, 2, 2, 2} {
		h.Push(n, t0.Add(time.Duration(i)*time.Minute))
	}
	// Newest first; runs of one comic are one entry, timed by its last view.
	if got, want := nums(&h), []int{2, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("entries: got %v, want %v", got, want)
	}
	if got, want := h.Entries[0].At, t0.Add(6*time.Minute); !got.Equal(want) {
		t.Errorf("newest entry's time: got %v, want %v (its last view)", got, want)
	}
	if got := h.Seen.Len(); got != 3 {
		t.Errorf("seen: got %d comics, want 3", got)
	}
	for _, n := range []int{1, 2, 3} {
		if !h.Seen.Has(n) {
			t.Errorf("seen: %d missing", n)
		}
	}
	if h.Seen.Has(4) || h.Seen.Has(0) || h.Seen.Has(-1) {
		t.Error("seen: holds a comic never viewed")
	}
}

func TestPushIgnoresNonComics(t *testing.T) {
	var h History
	h.Push(0, t0)
	h.Push(-3, t0)
	h.Push(maxNum+1, t0)
	if len(h.Entries) != 0 {
		t.Errorf("entries: got %v, want none", h.Entries)
	}
	if h.Seen.Len() != 0 {
		t.Errorf("seen: got %d, want 0", h.Seen.Len())
	}
	if len(h.Seen.words) != 0 {
		t.Errorf("seen grew to %d words for numbers out of range", len(h.Seen.words))
	}
}

func TestPushBound(t *testing.T) {
	var h History
	for n := 1; n <= Max+50; n++ {
		h.Push(n, t0.Add(time.Duration(n)*time.Second))
	}
	if got := len(h.Entries); got != Max {
		t.Fatalf("entries: got %d, want the bound %d", got, Max)
	}
	if got, want := h.Entries[0].Num, Max+50; got != want {
		t.Errorf("newest: got %d, want %d", got, want)
	}
	if got, want := h.Entries[Max-1].Num, 51; got != want {
		t.Errorf("oldest kept: got %d, want %d", got, want)
	}
	// The seen set is not bounded by the entries: it is one bit a comic.
	if got, want := h.Seen.Len(), Max+50; got != want {
		t.Errorf("seen: got %d, want %d", got, want)
	}
}

func TestEncoding(t *testing.T) {
	var h History
	for i, n := range []int{3000, 1, 404 - 1, 2, 3000, 17} {
		h.Push(n, t0.Add(time.Duration(i)*time.Hour))
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got History
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	if !slices.Equal(nums(&got), nums(&h)) {
		t.Errorf("entries: got %v, want %v", nums(&got), nums(&h))
	}
	for i := range h.Entries {
		if !got.Entries[i].At.Equal(h.Entries[i].At) {
			t.Errorf("entry %d: at %v, want %v", i, got.Entries[i].At, h.Entries[i].At)
		}
	}
	if got.Seen.Len() != h.Seen.Len() || !got.Seen.Has(3000) || !got.Seen.Has(17) {
		t.Errorf("seen: got %d comics, want %d", got.Seen.Len(), h.Seen.Len())
	}

	// A full history stays small: a few bytes an entry, a bit a comic.
	var full History
	for n := 1; n <= 3200; n++ {
		full.Push(n, t0.Add(time.Duration(n)*time.Minute))
	}
	b, _ = full.MarshalBinary()
	if len(b) > 2500 {
		t.Errorf("a full history encodes to %d bytes, want at most 2500", len(b))
	}
	t.Logf("full history: %d entries, %d seen, %d bytes", len(full.Entries), full.Seen.Len(), len(b))
}

func TestDecodeRejectsGarbage(t *testing.T) {
	var h History
	h.Push(5, t0)
	good, _ := h.MarshalBinary()
	tooMany := []byte{format, 0xff, 0xff, 0x03}
	for name, b := range map[string][]byte{
		"other format":  append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-3],
		"trailing":      append(append([]byte{}, good...), 1),
		"too many":      tooMany,
		"zero comic":    {format, 1, 0, 2, 0},
		"bad varint":    {format, 1, 0x80},
		"huge seen set": {format, 0, 0xff, 0xff, 0xff, 0x7f},
	} {
		t.Run(name, func(t *testing.T) {
			got := History{Entries: []Entry{{Num: 1}}}
			if err := got.UnmarshalBinary(b); err == nil {
				t.Errorf("UnmarshalBinary(%x): no error", b)
			}
			if len(got.Entries) != 0 || got.Seen.Len() != 0 {
				t.Errorf("after an error: got %+v, want an empty history", got)
			}
		})
	}
	var empty History
	if err := empty.UnmarshalBinary(nil); err != nil {
		t.Errorf("UnmarshalBinary(nil): %v, want an empty history", err)
	}
}
