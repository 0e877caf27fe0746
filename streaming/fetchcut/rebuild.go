package fetchcut

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
)

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
