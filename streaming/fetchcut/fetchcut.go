// Package fetchcut bounds what kafka-go decompresses and holds of a fetch response:
// it wraps the connections of a Reader and rebuilds each fetch response as a stream
// (see Bounds), marking the records the worker must dead-letter or skip.
package fetchcut

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
