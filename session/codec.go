package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Codec encodes sessions for the store in a compact binary form: scs's gob
// codec spends more time per request than the rest of a page does. It holds
// the value types the app stores: []byte, string, bool, int64 and
// time.Time; anything else is an error when the session is saved.
type Codec struct{}

// codecVersion leads every encoded session; data that does not start with
// it is not ours, and its visitor starts afresh.
const codecVersion = 0xc1

const (
	tagBytes byte = iota + 1
	tagString
	tagBool
	tagInt64
	tagTime
)

// Encode writes the deadline, then each key and its tagged value.
func (Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	size := 16
	for k, v := range values {
		size += len(k) + 12
		if b, ok := v.([]byte); ok {
			size += len(b)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, codecVersion)
	b = binary.AppendVarint(b, deadline.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = appendBytes(b, k)
		switch v := v.(type) {
		case []byte:
			b = append(b, tagBytes)
			b = appendBytes(b, v)
		case string:
			b = append(b, tagString)
			b = appendBytes(b, v)
		case bool:
			b = append(b, tagBool)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case int64:
			b = append(b, tagInt64)
			b = binary.AppendVarint(b, v)
		case time.Time:
			b = append(b, tagTime)
			b = binary.AppendVarint(b, v.UnixNano())
		default:
			return nil, fmt.Errorf("session: cannot store %q, a %T", k, v)
		}
	}
	return b, nil
}

func appendBytes[T string | []byte](b []byte, v T) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

var errCorrupt = errors.New("session: data is not a session")

// Decode reads what Encode wrote.
func (Codec) Decode(data []byte) (time.Time, map[string]any, error) {
	if len(data) == 0 || data[0] != codecVersion {
		return time.Time{}, nil, errCorrupt
	}
	r := reader{b: data[1:]}
	deadline := time.Unix(0, r.varint()).UTC()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each value takes at least a byte
		return time.Time{}, nil, errCorrupt
	}
	values := make(map[string]any, n)
	for range n {
		k := string(r.bytes())
		switch tag := r.u8(); tag {
		case tagBytes:
			values[k] = append([]byte(nil), r.bytes()...)
		case tagString:
			values[k] = string(r.bytes())
		case tagBool:
			values[k] = r.u8() == 1
		case tagInt64:
			values[k] = r.varint()
		case tagTime:
			values[k] = time.Unix(0, r.varint()).UTC()
		default:
			r.err = errCorrupt
		}
		if r.err != nil {
			return time.Time{}, nil, r.err
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return time.Time{}, nil, errCorrupt
	}
	return deadline, values, nil
}

// reader reads from b, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	r.err, r.b = errCorrupt, nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
