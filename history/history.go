// Package history is what a visitor has viewed: the recent comics, newest
// first, and the set of every comic they have seen. Both are small enough
// to live in the visitor's session, encoded compactly.
package history

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"time"
)

// Max bounds the entries kept: enough to look back on, small enough to
// travel to and from the session store with every view.
const Max = 300

// Entry is one view of a comic.
type Entry struct {
	Num int
	At  time.Time // to the second
}

// History is a visitor's views, newest first, with consecutive repeats
// collapsed, and the comics they have ever seen. The zero value is empty.
type History struct {
	Entries []Entry
	Seen    Set
}

// Push records a view of num at t. A repeat of the newest entry only moves
// its time; the oldest entries fall off past Max.
func (h *History) Push(num int, t time.Time) {
	if num < 1 || num > maxNum {
		return
	}
	t = t.Truncate(time.Second)
	h.Seen.Add(num)
	if len(h.Entries) > 0 && h.Entries[0].Num == num {
		h.Entries[0].At = t
		return
	}
	if len(h.Entries) < Max {
		h.Entries = append(h.Entries, Entry{})
	}
	copy(h.Entries[1:], h.Entries)
	h.Entries[0] = Entry{Num: num, At: t}
}

// Set is a set of comic numbers, one bit each: a visitor who has seen every
// comic costs a few hundred bytes. The zero value is empty.
type Set struct{ words []uint64 }

// maxNum bounds a Set: a number past it is ignored rather than letting one
// bad number grow the session without bound.
const maxNum = 1 << 20

// Add puts num in the set.
func (s *Set) Add(num int) {
	if num < 1 || num > maxNum {
		return
	}
	w := num / 64
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (num % 64)
}

// Has reports whether num is in the set.
func (s *Set) Has(num int) bool {
	w := num / 64
	return num > 0 && w < len(s.words) && s.words[w]&(1<<(num%64)) != 0
}

// Len is how many numbers the set holds.
func (s *Set) Len() int {
	n := 0
	for _, w := range s.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// format is the first byte of an encoded History; a History written in
// another format decodes as an error, and the visitor starts afresh.
const format = 1

// MarshalBinary encodes h: the format byte, the entry count, each entry as
// its number and its age relative to the one before it, then the seen set.
func (h *History) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+len(h.Entries)*5+len(h.Seen.words)*8)
	b = append(b, format)
	b = binary.AppendUvarint(b, uint64(len(h.Entries)))
	var prev int64
	for i, e := range h.Entries {
		b = binary.AppendUvarint(b, uint64(e.Num))
		at := e.At.Unix()
		if i == 0 {
			b = binary.AppendVarint(b, at)
		} else {
			b = binary.AppendVarint(b, prev-at) // newest first: small and positive
		}
		prev = at
	}
	words := h.Seen.words
	for len(words) > 0 && words[len(words)-1] == 0 {
		words = words[:len(words)-1]
	}
	b = binary.AppendUvarint(b, uint64(len(words)))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b, nil
}

var errCorrupt = errors.New("history: corrupt encoding")

// UnmarshalBinary decodes what MarshalBinary wrote. Anything else, or more
// than Max entries, is an error and leaves h empty.
func (h *History) UnmarshalBinary(b []byte) error {
	*h = History{}
	if len(b) == 0 {
		return nil
	}
	if b[0] != format {
		return errCorrupt
	}
	d := decoder{b: b[1:]}
	n := d.uvarint()
	if n > Max {
		return errCorrupt
	}
	entries := make([]Entry, 0, n)
	var prev int64
	for i := range n {
		num := d.uvarint()
		at := d.varint()
		if i > 0 {
			at = prev - at
		}
		prev = at
		if num < 1 || num > maxNum {
			d.err = errCorrupt
		}
		entries = append(entries, Entry{Num: int(num), At: time.Unix(at, 0)})
	}
	nw := d.uvarint()
	if nw > maxNum/64+1 || uint64(len(d.b)) != nw*8 {
		return errCorrupt
	}
	if d.err != nil {
		return d.err
	}
	words := make([]uint64, nw)
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(d.b[i*8:])
	}
	*h = History{Entries: entries, Seen: Set{words: words}}
	return nil
}

// decoder reads varints, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}
