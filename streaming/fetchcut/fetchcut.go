// Package fetchcut bounds what kafka-go decompresses and holds of a fetch response:
// it wraps the connections of a Reader and rebuilds each fetch response as a stream
// (see Bounds), marking the records the worker must dead-letter or skip.
package fetchcut

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// kafka-go reads each record's value whole and decompresses a record batch whole
// before the worker sees it: a 20 MiB value, or a small zstd batch that expands to
// gigabytes (a compression bomb), would be in memory before any limit applied. So
// the Reader's connections to the brokers are wrapped by a cutConn, which reads
// each fetch response itself, as a stream, and hands kafka-go a rebuilt one:
//
//   - batches uncompressed, decompressed as a stream (one batch at a time per
//     worker, with one zstd decoder of bounded window), never whole;
//   - a record whose key or value is over MaxRecordBytes, or whose headers are,
//     keeps its first TruncatedValueBytes of each and gains a marker header naming
//     the sizes it had: the worker dead-letters it as too_large;
//   - a batch that cannot be read within the bounds (a zstd window over the limit, a
//     snappy chunk too large, corrupt data, an unknown codec or message format)
//     becomes one marked record at the batch's last offset naming the offsets it
//     covers: the worker dead-letters it as undecodable and goes on past it;
//   - transactions: a control batch (a transaction's commit or abort marker) and,
//     by the aborted transactions the broker lists (it lists them to a
//     read_committed fetch), each batch of an aborted transaction become one marked
//     record at the batch's last offset: the worker decodes, writes and dead-letters
//     none of them, and commits past them, so a partition that ends with a marker
//     shows no lag (kafka-go hands every record to the worker, markers and aborted
//     records included);
//   - at most maxResponse bytes of records per response (always at least one
//     record): kafka-go fetches the rest from the next offset.
//
// Everything else — group membership, assignment, offsets, commits, rebalances —
// stays kafka-go's Reader's: the rebuilt response is a valid fetch response of the
// version kafka-go asked for, holding the same offsets.

// apiFetch is the Kafka API key of Fetch requests; the versions a cutConn rebuilds
// (kafka-go asks for 5 or 10 of modern brokers) have the same, non-flexible layout.
// Other versions pass unchanged.
const (
	apiFetch        = 1
	minFetchVersion = 5
	maxFetchVersion = 11
)

// TruncatedValueBytes is how much of a cut key, value or headers a record keeps,
// and how much of its value a dead letter keeps when the dead-letter topic refuses
// it whole as too large.
const TruncatedValueBytes = 16 << 10

// Bounds of what a cutConn decompresses: a zstd frame may ask for a window of up to
// 8 MiB (kafka-go's producer asks for that, Kafka's Java producer less at its
// default level), a snappy chunk may decode to 8 MiB (producers frame 32 KiB).
const (
	maxZstdWindow    = 8 << 20
	maxSnappyChunk   = 8 << 20
	rebuildTimeout   = 30 * time.Second // for reading one response, once it has begun
	maxRequestHeader = 64 << 10         // a fetch request larger than this is not rewritten
)

// cut is what the marker header of a cut record says: the sizes the record had, or
// (for a placeholder) why its batch could not be read and which offsets it held.
type cut struct {
	keyBytes, valueBytes, headerBytes int
	undecodable                       string // why the batch could not be read; "" for a cut record
	skipped                           string // why the batch is no records of the topic's: control, aborted
	first, last                       int64  // the offsets the undecodable or skipped batch covers
}

func (c cut) encode() []byte {
	switch {
	case c.undecodable != "":
		return fmt.Appendf(nil, "undecodable %d %d %s", c.first, c.last, c.undecodable)
	case c.skipped != "":
		return fmt.Appendf(nil, "skipped %d %d %s", c.first, c.last, c.skipped)
	}
	return fmt.Appendf(nil, "cut %d %d %d", c.keyBytes, c.valueBytes, c.headerBytes)
}

func parseCut(b []byte) (cut, bool) {
	f := strings.SplitN(string(b), " ", 4)
	if len(f) != 4 {
		return cut{}, false
	}
	x, errX := strconv.ParseInt(f[1], 10, 64)
	y, errY := strconv.ParseInt(f[2], 10, 64)
	if errX != nil || errY != nil {
		return cut{}, false
	}
	switch f[0] {
	case "cut":
		h, err := strconv.Atoi(f[3])
		return cut{keyBytes: int(x), valueBytes: int(y), headerBytes: h}, err == nil
	case "undecodable":
		return cut{first: x, last: y, undecodable: f[3]}, f[3] != ""
	case "skipped":
		return cut{first: x, last: y, skipped: f[3]}, f[3] != ""
	}
	return cut{}, false
}

// Bounds are the limits of the cutConns of one worker's reader, and the state
// they share.
type Bounds struct {
	maxRecord   int    // a key, value or all headers larger than this are cut
	maxResponse int    // most bytes of records in a rebuilt response, beyond its first record
	marker      string // the header key marking a cut record: random per worker, unforgeable

	mu      sync.Mutex // one batch is decompressed at a time, with these readers
	zstd    *zstd.Decoder
	records *bufio.Reader // over the decompressed records
}

// Dial returns a dial function for a kafka.Dialer that wraps each connection dial
// makes (kafkasec.Security.DialFunc: TCP, then TLS when configured). A
// cutConn must see the protocol in clear: TLS, when the worker has it, belongs in
// here, under the cutConn, not in kafka.Dialer.TLS (over ciphertext a cutConn finds
// no fetch response and passes every byte unchanged, unbounded).
func (fb *Bounds) Dial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cutConn{Conn: c, fb: fb, br: bufio.NewReaderSize(c, 32<<10)}, nil
	}
}

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

// rebuilder reads one fetch response from in and writes its rebuilt form to out.
type rebuilder struct {
	fb      *Bounds
	in      *io.LimitedReader
	from    map[topicPartition]int64
	out     []byte
	records int    // bytes of records in out
	full    bool   // out holds maxResponse bytes of records: the rest are left out
	body    []byte // the record being rebuilt, up to its value
	headers []byte // its headers, encoded
	ends    []int  // where each of its headers ends in headers

	// The aborted transactions of the partition being rebuilt, in the order of
	// their first offsets, the next one not yet begun, and the producers whose
	// aborted transaction is open at the current batch.
	aborted     []abortedTxn
	nextAborted int
	abortedBy   map[int64]bool
}

// abortedTxn is an entry of a fetch response's aborted transactions.
type abortedTxn struct{ producer, first int64 }

// copyN copies n bytes of the response to out and returns them.
func (rb *rebuilder) copyN(n int) ([]byte, error) {
	start := len(rb.out)
	rb.out = append(rb.out, make([]byte, n)...)
	if _, err := io.ReadFull(rb.in, rb.out[start:]); err != nil {
		return nil, err
	}
	return rb.out[start:], nil
}

func (rb *rebuilder) copyInt32() (int32, error) {
	b, err := rb.copyN(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

func (rb *rebuilder) copyString() (string, error) {
	b, err := rb.copyN(2)
	if err != nil {
		return "", err
	}
	s, err := rb.copyN(max(0, int(int16(binary.BigEndian.Uint16(b)))))
	return string(s), err
}

// response rebuilds the body of a fetch response of the given version.
func (rb *rebuilder) response(version int16) error {
	fixed := 4 // throttle time
	if version >= 7 {
		fixed += 2 + 4 // error code, session id
	}
	if _, err := rb.copyN(fixed); err != nil {
		return err
	}
	topics, err := rb.copyInt32()
	if err != nil {
		return err
	}
	for range max(topics, 0) {
		topic, err := rb.copyString()
		if err != nil {
			return err
		}
		partitions, err := rb.copyInt32()
		if err != nil {
			return err
		}
		for range max(partitions, 0) {
			if err := rb.partition(topic, version); err != nil {
				return err
			}
		}
	}
	return nil
}

// partition rebuilds one partition's part of a fetch response.
func (rb *rebuilder) partition(topic string, version int16) error {
	p, err := rb.copyInt32()
	if err != nil {
		return err
	}
	fixed := 2 + 8 + 8 // error code, high watermark, last stable offset
	if version >= 5 {
		fixed += 8 // log start offset
	}
	if _, err := rb.copyN(fixed); err != nil {
		return err
	}
	if err := rb.abortedTxns(); err != nil {
		return err
	}
	if version >= 11 {
		if _, err := rb.copyN(4); err != nil { // preferred read replica
			return err
		}
	}
	var size [4]byte
	if _, err := io.ReadFull(rb.in, size[:]); err != nil {
		return err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	at := len(rb.out)
	rb.out = append(rb.out, 0, 0, 0, 0)
	if n <= 0 {
		binary.BigEndian.PutUint32(rb.out[at:], uint32(n)) // null or empty: as it came
		return nil
	}
	section := &io.LimitedReader{R: rb.in, N: int64(n)}
	from := rb.from[topicPartition{topic, p}]
	for section.N > 0 && !rb.full && rb.records < rb.fb.maxResponse {
		if err := rb.batch(section, from); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, section); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(rb.out[at:], uint32(len(rb.out)-at-4))
	return nil
}

// abortedTxns reads a partition's aborted transactions, which rebuild needs and
// kafka-go does not (it ignores them): the rebuilt response lists none. The count
// comes from the wire: entries are read one by one, never more than the response
// holds, so that no allocation is sized by it.
func (rb *rebuilder) abortedTxns() error {
	var n [4]byte
	if _, err := io.ReadFull(rb.in, n[:]); err != nil {
		return err
	}
	count := int64(int32(binary.BigEndian.Uint32(n[:])))
	if count > 0 {
		n = [4]byte{} // none
	}
	rb.out = append(rb.out, n[:]...) // none, or null as it came
	if count > rb.in.N/16 {
		return fmt.Errorf("%d aborted transactions in a response of %d bytes", count, rb.in.N)
	}
	rb.aborted, rb.nextAborted = rb.aborted[:0], 0
	if rb.abortedBy == nil {
		rb.abortedBy = map[int64]bool{}
	}
	clear(rb.abortedBy)
	var e [16]byte
	for range max(count, 0) {
		if _, err := io.ReadFull(rb.in, e[:]); err != nil {
			return err
		}
		rb.aborted = append(rb.aborted, abortedTxn{int64(binary.BigEndian.Uint64(e[:])), int64(binary.BigEndian.Uint64(e[8:]))})
	}
	slices.SortFunc(rb.aborted, func(a, b abortedTxn) int { return cmp.Compare(a.first, b.first) })
	return nil
}

// skipTxn says why a batch of the partition is no records of the topic's: a control
// batch (a transaction marker), or a batch of a transaction that was aborted; "" for
// a batch of records. It is called for every batch, in order, as a read_committed
// consumer follows the aborted transactions: one is open for its producer from its
// first offset to its abort marker.
func (rb *rebuilder) skipTxn(hdr *[batchHeaderBytes]byte, last int64) string {
	attrs := binary.BigEndian.Uint16(hdr[batchAttrsAt:])
	producer := int64(binary.BigEndian.Uint64(hdr[batchProducerAt:]))
	for rb.nextAborted < len(rb.aborted) && rb.aborted[rb.nextAborted].first <= last {
		rb.abortedBy[rb.aborted[rb.nextAborted].producer] = true
		rb.nextAborted++
	}
	switch {
	case attrs&batchControl != 0:
		delete(rb.abortedBy, producer) // the marker ends the producer's transaction
		return "control"
	case attrs&batchTransactional != 0 && rb.abortedBy[producer]:
		return "aborted"
	}
	return ""
}

// Sizes in a record batch (message format v2).
const (
	batchHeaderBytes = 61 // base offset … record count
	batchLengthAt    = 8
	batchMagicAt     = 16
	batchCRCAt       = 17
	batchAttrsAt     = 21
	batchLastDeltaAt = 23
	batchTimeAt      = 27
	batchProducerAt  = 43
	batchCountAt     = 57
	// Bits of the attributes.
	batchTransactional = 1 << 4
	batchControl       = 1 << 5
	// The length field counts from the partition leader epoch on: 49 bytes of the
	// header before the records.
	batchLengthBase = batchHeaderBytes - 12
)

// batch rebuilds the next record batch of a partition's records: uncompressed,
// holding its records from offset from on, each cut to the bounds. A batch cut short
// by the broker (the last of a response may be) is left out: kafka-go fetches it
// again from its offset.
func (rb *rebuilder) batch(section *io.LimitedReader, from int64) error {
	if section.N < batchMagicAt+1 {
		_, err := io.Copy(io.Discard, section)
		return err
	}
	var hdr [batchHeaderBytes]byte
	if _, err := io.ReadFull(section, hdr[:batchMagicAt+1]); err != nil {
		return err
	}
	base := int64(binary.BigEndian.Uint64(hdr[:]))
	length := int64(int32(binary.BigEndian.Uint32(hdr[batchLengthAt:])))
	rest := length - (batchMagicAt + 1 - 12)
	if rest < 0 || rest > section.N {
		_, err := io.Copy(io.Discard, section) // cut short by the broker
		return err
	}
	body := &io.LimitedReader{R: section, N: rest}
	defer func() { _, _ = io.Copy(io.Discard, body) }()
	if hdr[batchMagicAt] != 2 {
		if base >= from { // a v0/v1 message: its offset is its last
			rb.placeholder(hdr, base, base, base, cut{undecodable: fmt.Sprintf("message format v%d, which the worker does not read", hdr[batchMagicAt])})
		}
		return nil
	}
	if length < batchLengthBase {
		return fmt.Errorf("record batch at offset %d: length %d", base, length)
	}
	if _, err := io.ReadFull(body, hdr[batchMagicAt+1:]); err != nil {
		return err
	}
	last := base + int64(int32(binary.BigEndian.Uint32(hdr[batchLastDeltaAt:])))
	skip := rb.skipTxn(&hdr, last)
	if last < from {
		return nil
	}
	if skip != "" {
		rb.placeholder(hdr, base, max(base, from), last, cut{skipped: skip})
		return nil
	}
	count := int(int32(binary.BigEndian.Uint32(hdr[batchCountAt:])))
	codec := binary.BigEndian.Uint16(hdr[batchAttrsAt:]) & 7

	rb.fb.mu.Lock()
	defer rb.fb.mu.Unlock()
	records, release, err := rb.fb.decompress(codec, body)
	if err != nil {
		rb.placeholder(hdr, base, max(base, from), last, cut{undecodable: err.Error()})
		return nil
	}
	defer release()
	at := len(rb.out)
	rb.out = append(rb.out, hdr[:]...)
	kept, lastDelta := 0, int32(-1)
	for i := 0; i < count && !rb.full; i++ {
		delta, err := rb.record(records, base, from)
		switch {
		case err != nil && kept == 0:
			rb.out = rb.out[:at]
			rb.placeholder(hdr, base, max(base, from), last, cut{undecodable: fmt.Sprintf("record %d of %d: %v", i, count, err)})
			return nil
		case err != nil: // kafka-go fetches the rest again, from the record that failed
			rb.full = true
		case delta >= 0:
			kept++
			lastDelta = delta
		}
	}
	if kept == 0 {
		rb.out = rb.out[:at]
		return nil
	}
	b := rb.out[at:]
	if !rb.full { // all of it: its last offset delta stays, past records compaction removed
		lastDelta = int32(binary.BigEndian.Uint32(b[batchLastDeltaAt:]))
	}
	binary.BigEndian.PutUint16(b[batchAttrsAt:], binary.BigEndian.Uint16(b[batchAttrsAt:])&^7)
	binary.BigEndian.PutUint32(b[batchLastDeltaAt:], uint32(lastDelta))
	binary.BigEndian.PutUint32(b[batchCountAt:], uint32(kept))
	sealBatch(b)
	return nil
}

// placeholder appends a batch of one record, at offset last, standing for the
// records first…last of a batch that cannot be read within the bounds, or that is
// skipped: its marker header is mark, with first and last.
func (rb *rebuilder) placeholder(hdr [batchHeaderBytes]byte, base, first, last int64, mark cut) {
	at := len(rb.out)
	var b [batchHeaderBytes]byte
	copy(b[:batchLengthAt], hdr[:batchLengthAt])
	b[batchMagicAt] = 2
	binary.BigEndian.PutUint32(b[batchLastDeltaAt:], uint32(last-base))
	ts := hdr[batchTimeAt : batchTimeAt+8]
	if hdr[batchMagicAt] != 2 { // a v0/v1 message: no timestamp there
		ts = binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli()))
	}
	copy(b[batchTimeAt:], ts)
	copy(b[batchTimeAt+8:], ts)
	copy(b[batchTimeAt+16:batchCountAt], bytes.Repeat([]byte{0xff}, batchCountAt-batchTimeAt-16)) // no producer
	binary.BigEndian.PutUint32(b[batchCountAt:], 1)
	rb.out = append(rb.out, b[:]...)
	rb.body = append(rb.body[:0], 0) // attributes
	rb.body = binary.AppendVarint(rb.body, 0)
	rb.body = binary.AppendVarint(rb.body, last-base)
	rb.body = binary.AppendVarint(rb.body, -1) // no key
	rb.body = binary.AppendVarint(rb.body, -1) // no value
	mark.first, mark.last = first, last
	rb.headers = appendHeader(rb.headers[:0], rb.fb.marker, mark.encode())
	rb.appendRecord(1)
	sealBatch(rb.out[at:])
	if mark.skipped == "" {
		rb.full = true // the next fetch starts after it
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealBatch sets a rebuilt batch's length and checksum.
func sealBatch(b []byte) {
	binary.BigEndian.PutUint32(b[batchLengthAt:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchAttrsAt:], castagnoli))
}

// record reads one record and appends it, cut to the bounds, unless its offset is
// before from or the response is full; it returns the record's offset delta, or -1
// when it is left out. The record is rebuilt in rb.body and rb.headers, reused from
// record to record.
func (rb *rebuilder) record(r *bufio.Reader, base, from int64) (int32, error) {
	if _, err := binary.ReadVarint(r); err != nil { // length: the fields say it again
		return -1, err
	}
	attrs, err := r.ReadByte()
	if err != nil {
		return -1, err
	}
	tsDelta, err := binary.ReadVarint(r)
	if err != nil {
		return -1, err
	}
	offDelta, err := binary.ReadVarint(r)
	if err != nil {
		return -1, err
	}
	keep := base+offDelta >= from
	if keep && rb.records >= rb.fb.maxResponse {
		rb.full = true // kafka-go fetches this record again, in the next response
		return -1, nil
	}
	body := append(rb.body[:0], attrs)
	body = binary.AppendVarint(body, tsDelta)
	body = binary.AppendVarint(body, offDelta)
	var c cut
	if body, _, err = rb.field(r, body, keep, &c.keyBytes); err != nil {
		return -1, err
	}
	if body, _, err = rb.field(r, body, keep, &c.valueBytes); err != nil {
		return -1, err
	}
	rb.body = body
	count, err := rb.readHeaders(r, keep, &c)
	if err != nil || !keep {
		return -1, err
	}
	if c != (cut{}) {
		rb.headers = appendHeader(rb.headers, rb.fb.marker, c.encode())
		count++
	}
	start := len(rb.out)
	rb.appendRecord(count)
	rb.records += len(rb.out) - start
	return int32(offDelta), nil
}

// field reads a length-prefixed field and, if keep, appends it to dst: cut to
// TruncatedValueBytes if it is over maxRecord (its size then noted in cutSize). It
// returns dst and the field's length (-1: null).
func (rb *rebuilder) field(r *bufio.Reader, dst []byte, keep bool, cutSize *int) ([]byte, int, error) {
	n, err := binary.ReadVarint(r)
	switch {
	case err != nil:
		return dst, 0, err
	case n < 0:
		if keep {
			dst = binary.AppendVarint(dst, -1)
		}
		return dst, -1, nil
	case !keep:
		return dst, int(n), discard(r, n)
	}
	kept := n
	if n > int64(rb.fb.maxRecord) { // a limit under TruncatedValueBytes keeps the field whole
		kept, *cutSize = min(n, TruncatedValueBytes), int(n)
	}
	dst = binary.AppendVarint(dst, kept)
	at := len(dst)
	dst = slices.Grow(dst, int(kept))[:at+int(kept)]
	if _, err := io.ReadFull(r, dst[at:]); err != nil {
		return dst, 0, err
	}
	return dst, int(n), discard(r, n-kept)
}

// readHeaders reads a record's headers into rb.headers and returns how many it
// keeps. If they total more than maxRecord bytes, it keeps those within the first
// TruncatedValueBytes and notes the total in c: it never holds more than maxRecord
// bytes of them. Each header counts its key, its value and HeaderOverhead, what
// kafka-go allocates for it: ten million empty headers are 400 MB in kafka-go.
func (rb *rebuilder) readHeaders(r *bufio.Reader, keep bool, c *cut) (int, error) {
	rb.headers = rb.headers[:0]
	n, err := binary.ReadVarint(r)
	if err != nil || n <= 0 {
		return 0, err
	}
	ends := rb.ends[:0] // where each kept header ends in rb.headers
	total := 0
	for range n {
		over := c.headerBytes > 0
		var ignored int
		h, k, err := rb.field(r, rb.headers, keep && !over, &ignored)
		if err != nil {
			return 0, err
		}
		h, v, err := rb.field(r, h, keep && !over, &ignored)
		if err != nil {
			return 0, err
		}
		rb.headers = h
		total += max(k, 0) + max(v, 0) + HeaderOverhead
		switch {
		case !keep:
		case over:
			c.headerBytes = total
		case total <= rb.fb.maxRecord:
			ends = append(ends, len(rb.headers))
		default: // just over: keep the first ones
			c.headerBytes = total
			k := 0
			for k < len(ends) && ends[k] <= TruncatedValueBytes {
				k++
			}
			ends = ends[:k]
			end := 0
			if k > 0 {
				end = ends[k-1]
			}
			rb.headers = rb.headers[:end]
		}
	}
	rb.ends = ends
	return len(ends), nil
}

// HeaderOverhead is what a header costs in memory beyond its key and value: its
// kafka.Header (a string and a slice).
const HeaderOverhead = int(unsafe.Sizeof(kafka.Header{}))

// appendHeader appends a header, encoded, to b.
func appendHeader(b []byte, key string, value []byte) []byte {
	b = binary.AppendVarint(b, int64(len(key)))
	b = append(b, key...)
	b = binary.AppendVarint(b, int64(len(value)))
	return append(b, value...)
}

// discard skips n bytes. It runs twice a record: bufio's Discard allocates nothing,
// where io.CopyN allocates a LimitedReader a call.
func discard(r *bufio.Reader, n int64) error {
	if n <= 0 {
		return nil
	}
	_, err := r.Discard(int(n))
	return err
}

// appendRecord appends to out the record (message format v2) whose fields up to
// its value are rb.body, and whose count headers are rb.headers.
func (rb *rebuilder) appendRecord(count int) {
	var n [binary.MaxVarintLen64]byte
	countLen := binary.PutVarint(n[:], int64(count))
	rb.out = binary.AppendVarint(rb.out, int64(len(rb.body)+countLen+len(rb.headers)))
	rb.out = append(rb.out, rb.body...)
	rb.out = append(rb.out, n[:countLen]...)
	rb.out = append(rb.out, rb.headers...)
}

// decompress returns a reader of the records of a batch whose records section is
// body, compressed with codec (the batch attributes' lowest bits), that holds at
// most a bounded window of them, and a function to call once they are read. The
// caller holds fb.mu: the reader is fb's, reused from batch to batch.
func (fb *Bounds) decompress(codec uint16, body io.Reader) (records *bufio.Reader, release func(), err error) {
	var r io.Reader
	release = func() {}
	switch codec {
	case 0:
		r = body
	case 1, 3:
		// kafka-go's codecs lend their readers from pools, and Close gives one back:
		// a reader not closed is garbage, and a new one is made for the next batch
		// (an lz4 one with a 4 MiB block buffer).
		c := kafka.Gzip.Codec()
		if codec == 3 {
			c = kafka.Lz4.Codec()
		}
		rc := c.NewReader(body)
		r, release = rc, func() { _ = rc.Close() }
	case 2:
		r = &snappyReader{r: body}
	case 4:
		if fb.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow))
			if err != nil {
				return nil, nil, err
			}
			fb.zstd = d
		}
		if err := fb.zstd.Reset(body); err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		r = fb.zstd
	default:
		return nil, nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	if fb.records == nil {
		fb.records = bufio.NewReaderSize(r, 16<<10)
	} else {
		fb.records.Reset(r)
	}
	return fb.records, release, nil
}

// xerialMagic begins a snappy stream in xerial framing (Kafka's Java producer's): a
// 16-byte header, then chunks, each a 4-byte length and a snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// snappyReader decompresses a batch's records compressed with snappy, a chunk at a
// time, refusing a chunk that would decode to more than maxSnappyChunk bytes.
type snappyReader struct {
	r       io.Reader
	started bool
	framed  bool
	in, out []byte
	left    []byte // decoded, not yet read
	err     error
}

func (s *snappyReader) Read(b []byte) (int, error) {
	for len(s.left) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.next()
	}
	n := copy(b, s.left)
	s.left = s.left[n:]
	return n, nil
}

// next decodes the next chunk.
func (s *snappyReader) next() error {
	var n int
	if !s.started {
		s.started = true
		head := make([]byte, 16)
		k, err := io.ReadFull(s.r, head)
		if s.framed = k == 16 && bytes.HasPrefix(head, xerialMagic); !s.framed {
			// One unframed block: the whole section.
			rest, rerr := io.ReadAll(io.LimitReader(s.r, maxSnappyChunk))
			if rerr != nil {
				return rerr
			}
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return err
			}
			return s.decode(append(head[:k], rest...))
		}
	}
	if !s.framed {
		return io.EOF
	}
	var size [4]byte
	if _, err := io.ReadFull(s.r, size[:]); err != nil {
		return err // io.EOF after the last chunk
	}
	if n = int(binary.BigEndian.Uint32(size[:])); n > maxSnappyChunk {
		return fmt.Errorf("snappy chunk of %d bytes, more than %d", n, maxSnappyChunk)
	}
	s.in = append(s.in[:0], make([]byte, n)...)
	if _, err := io.ReadFull(s.r, s.in); err != nil {
		return err
	}
	return s.decode(s.in)
}

func (s *snappyReader) decode(block []byte) error {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return fmt.Errorf("snappy: %w", err)
	}
	if n > maxSnappyChunk {
		return fmt.Errorf("snappy chunk decoding to %d bytes, more than %d", n, maxSnappyChunk)
	}
	s.out, err = snappy.Decode(s.out[:cap(s.out)], block)
	if err != nil {
		return fmt.Errorf("snappy: %w", err)
	}
	s.left = s.out
	if !s.framed {
		s.framed, s.r = true, eofReader{} // nothing follows
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// New returns the bounds of a reader that cuts keys, values and headers over
// maxRecord bytes, for a worker whose byte budget is maxBuffer. A rebuilt response
// holds at most an eighth of the budget (kafka-go asks brokers for 1 MB anyway).
func New(maxRecord, maxBuffer int) *Bounds {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	return &Bounds{
		maxRecord:   maxRecord,
		maxResponse: max(64<<10, maxBuffer/8),
		marker:      "streampipe.cut." + hex.EncodeToString(nonce),
	}
}

// Held is about the most memory the cutConns of a reader hold beyond the records
// the reader queues: a rebuilt fetch response and the zstd decoder's window.
func (fb *Bounds) Held() int { return fb.maxResponse + maxZstdWindow }

// CutRecord says why a record the rebuilt response marked as cut, or as standing for
// an undecodable batch, is dead-lettered (and takes the marker off it), or returns
// nil for any other record.
func (fb *Bounds) CutRecord(m *kafka.Message) (bad *rows.InvalidError, skipped bool) {
	i := slices.IndexFunc(m.Headers, func(h kafka.Header) bool { return h.Key == fb.marker })
	if i < 0 {
		return nil, false
	}
	mark := m.Headers[i].Value
	m.Headers = slices.Delete(m.Headers, i, i+1)
	c, ok := parseCut(mark)
	if ok && c.skipped != "" {
		return nil, true
	}
	return c.invalid(ok, mark, m.Partition, fb.maxRecord), false
}

// invalid is why a record marked as cut, or as standing for an undecodable batch, is
// dead-lettered; ok is false for a mark that did not parse.
func (c cut) invalid(ok bool, mark []byte, partition, maxRecord int) *rows.InvalidError {
	switch {
	case !ok:
		return rows.Invalid(rows.ReasonUndecodable, "the fetch marked the record in a form the worker does not know: %q", mark)
	case c.undecodable != "":
		return rows.Invalid(rows.ReasonUndecodable, "the record batch holding offsets %d to %d of partition %d cannot be read within "+
			"the worker's memory bounds, and its records are skipped: %s", c.first, c.last, partition, c.undecodable)
	}
	if c.valueBytes == 0 {
		bad := rows.Invalid(rows.ReasonTooLarge, "key of %d bytes or headers of %d bytes, more than the limit of %d; the dead "+
			"letter holds their first %d", c.keyBytes, c.headerBytes, maxRecord, TruncatedValueBytes)
		bad.Truncated = true
		return bad
	}
	return TooLarge(c.valueBytes, maxRecord)
}

// TooLarge is why a record whose value of n bytes is over limit is dead-lettered,
// holding the value's beginning.
func TooLarge(n, limit int) *rows.InvalidError {
	bad := rows.Invalid(rows.ReasonTooLarge, "value is %d bytes, more than the limit of %d; the dead letter holds its first %d",
		n, limit, TruncatedValueBytes)
	bad.Truncated = true
	return bad
}
