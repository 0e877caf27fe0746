package fetchcut

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// sentRequest is a request whose response is due.
type sentRequest struct {
	correlation int32
	rebuild     bool  // a fetch response of a version that is rebuilt
	version     int16 // its version
	from        map[topicPartition]int64
}

type topicPartition struct {
	topic     string
	partition int32
}

// cutConn is a connection to a broker whose fetch responses are rebuilt (see above);
// it passes every other byte unchanged. kafka-go's Conn serialises the reads, and
// the writes, of a connection.
type cutConn struct {
	net.Conn
	fb *Bounds
	br *bufio.Reader

	// Requests written: the head of the current one until its header is known.
	req       []byte
	reqRemain int // bytes of the current request still to pass without looking
	pmu       sync.Mutex
	pending   []sentRequest // in order: Kafka answers a connection's requests in order

	out  []byte    // the response being handed to kafka-go
	rb   rebuilder // the last response rebuilt: its buffers are reused
	pass int       // bytes of the current response to pass unchanged
	err  error     // the connection is unusable after a failed rebuild

	dmu      sync.Mutex
	deadline time.Time // kafka-go's read deadline
}

func (c *cutConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

func (c *cutConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

// extendReadDeadline gives the reading of a response begun its own deadline, not
// kafka-go's one for the broker's long poll; the function it returns puts kafka-go's
// back.
func (c *cutConn) extendReadDeadline() (restore func(), err error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(rebuildTimeout)); err != nil {
		return nil, err
	}
	return func() {
		c.dmu.Lock()
		defer c.dmu.Unlock()
		_ = c.Conn.SetReadDeadline(c.deadline)
	}, nil
}

// Write notes the requests in b before they leave: their responses may come back
// before Write returns.
func (c *cutConn) Write(b []byte) (int, error) {
	c.sniff(b)
	return c.Conn.Write(b)
}

// sniff follows the requests written in b: size, api key, version, correlation id
// and, for a fetch request, the offsets it asks for.
func (c *cutConn) sniff(b []byte) {
	for len(b) > 0 {
		if c.reqRemain > 0 {
			n := min(c.reqRemain, len(b))
			c.reqRemain -= n
			b = b[n:]
			continue
		}
		want := 12 // size, api key, version, correlation id
		fetch := len(c.req) >= want && isFetch(c.req)
		if fetch {
			want = 4 + int(binary.BigEndian.Uint32(c.req))
		}
		n := min(len(b), want-len(c.req))
		c.req = append(c.req, b[:n]...)
		b = b[n:]
		if len(c.req) < want || !fetch && isFetch(c.req) {
			continue // more to come, or now the whole fetch request
		}
		r := sentRequest{correlation: int32(binary.BigEndian.Uint32(c.req[8:])), version: int16(binary.BigEndian.Uint16(c.req[6:]))}
		if fetch {
			r.from, r.rebuild = fetchOffsets(c.req[4:], r.version)
		} else {
			c.reqRemain = max(0, 4+int(int32(binary.BigEndian.Uint32(c.req)))-len(c.req))
		}
		c.pmu.Lock()
		c.pending = append(c.pending, r)
		c.pmu.Unlock()
		c.req = c.req[:0]
	}
}

// isFetch says whether the request beginning with head (at least 12 bytes) is a
// fetch request that is rebuilt.
func isFetch(head []byte) bool {
	size := int32(binary.BigEndian.Uint32(head))
	api, version := int16(binary.BigEndian.Uint16(head[4:])), int16(binary.BigEndian.Uint16(head[6:]))
	return api == apiFetch && version >= minFetchVersion && version <= maxFetchVersion && size > 8 && size <= maxRequestHeader
}

// fetchOffsets reads a fetch request's offsets, by topic and partition; ok is false
// when it cannot.
func fetchOffsets(req []byte, version int16) (map[topicPartition]int64, bool) {
	d := decoder{b: req[8:]} // after api key, version, correlation id
	d.string()               // client id
	d.skip(16)               // replica id, max wait, min bytes, max bytes
	d.skip(1)                // isolation level
	if version >= 7 {
		d.skip(8) // session id and epoch
	}
	from := map[topicPartition]int64{}
	for range d.count() {
		topic := d.string()
		for range d.count() {
			p := d.int32()
			if version >= 9 {
				d.skip(4) // current leader epoch
			}
			from[topicPartition{topic, p}] = d.int64()
			d.skip(8 + 4) // log start offset, partition max bytes
		}
	}
	return from, d.err == nil
}

// decoder reads big-endian fields from a byte slice, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) skip(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = errors.New("short request")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) int32() int32 {
	if s := d.skip(4); s != nil {
		return int32(binary.BigEndian.Uint32(s))
	}
	return 0
}

func (d *decoder) int64() int64 {
	if s := d.skip(8); s != nil {
		return int64(binary.BigEndian.Uint64(s))
	}
	return 0
}

func (d *decoder) string() string {
	s := d.skip(2)
	if s == nil {
		return ""
	}
	n := int(int16(binary.BigEndian.Uint16(s)))
	return string(d.skip(max(n, 0)))
}

// count reads an array's length: the loops over it stop at the first error.
func (d *decoder) count() int {
	n := int(d.int32())
	if d.err != nil || n < 0 || n > len(d.b) {
		return 0
	}
	return n
}

// Read hands kafka-go the responses: those to fetch requests rebuilt, the others as
// they come.
func (c *cutConn) Read(b []byte) (int, error) {
	if len(c.out) > 0 {
		n := copy(b, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.pass > 0 {
		n, err := c.br.Read(b[:min(len(b), c.pass)])
		c.pass -= n
		return n, err
	}
	var head [8]byte
	if _, err := io.ReadFull(c.br, head[:]); err != nil {
		return 0, err
	}
	size := int(int32(binary.BigEndian.Uint32(head[:])))
	correlation := int32(binary.BigEndian.Uint32(head[4:]))
	c.pmu.Lock()
	var r sentRequest
	if len(c.pending) > 0 {
		r = c.pending[0]
		c.pending = c.pending[1:]
	}
	c.pmu.Unlock()
	if !r.rebuild || r.correlation != correlation || size < 4 {
		c.out, c.pass = head[:], size-4
		return c.Read(b)
	}
	out, err := c.rebuild(r, size-4, head)
	if err != nil {
		c.err = fmt.Errorf("reading a fetch response: %w", err)
		return 0, c.err
	}
	c.out = out
	return c.Read(b)
}

// rebuild reads a fetch response's body of n bytes and returns the response kafka-go
// gets instead, starting with head's correlation id.
func (c *cutConn) rebuild(r sentRequest, n int, head [8]byte) ([]byte, error) {
	restore, err := c.extendReadDeadline()
	if err != nil {
		return nil, err
	}
	defer restore()
	// The buffers of the last response are reused: kafka-go has read it. An
	// uncompressed response is rebuilt to about its own size.
	keep := c.fb.maxResponse + c.fb.maxRecord
	if cap(c.rb.out) < min(n+8, keep) {
		c.rb.out = make([]byte, 0, min(n+8, keep))
	}
	in := &io.LimitedReader{R: c.br, N: int64(n)}
	rb := &c.rb
	rb.fb, rb.in, rb.from, rb.records, rb.full = c.fb, in, r.from, 0, false
	rb.out = append(rb.out[:0], head[:]...)
	if err := rb.response(r.version); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(rb.out, uint32(len(rb.out)-4))
	out := rb.out
	if cap(out) > keep { // a response past the bound (its last record is large): not kept
		rb.out = nil
	}
	return out, nil
}
