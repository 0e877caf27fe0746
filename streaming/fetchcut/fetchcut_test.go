package fetchcut

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

// fetchRequestV10 is a fetch request (version 10) as kafka-go writes it: one topic,
// one partition, from offset.
func fetchRequestV10(correlation int32, topic string, partition int32, offset int64) []byte {
	b := binary.BigEndian.AppendUint16(nil, apiFetch)
	b = binary.BigEndian.AppendUint16(b, 10)
	b = binary.BigEndian.AppendUint32(b, uint32(correlation))
	b = binary.BigEndian.AppendUint16(b, 3)
	b = append(b, "cli"...)
	b = append(b, make([]byte, 16+1+8)...) // replica id … isolation level, session id and epoch
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	b = binary.BigEndian.AppendUint32(b, 0) // current leader epoch
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = append(b, make([]byte, 8+4)...) // log start offset, partition max bytes
	b = append(b, make([]byte, 4)...)   // no forgotten topics
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// otherRequest is a request of another API (metadata, 3) with a body of n bytes.
func otherRequest(correlation int32, n int) []byte {
	b := binary.BigEndian.AppendUint16(nil, 3)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(correlation))
	b = append(b, make([]byte, n)...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// The requests a connection writes are followed however the writes split them: each
// is noted, in order, with a fetch request's offsets.
func TestCutConnFollowsRequests(t *testing.T) {
	stream := append(append(otherRequest(7, 5000), fetchRequestV10(8, "users", 2, 1234)...), otherRequest(9, 0)...)
	for _, chunk := range []int{1, 3, 11, 4096, len(stream)} {
		c := &cutConn{Conn: discardConn{}}
		for b := stream; len(b) > 0; b = b[min(chunk, len(b)):] {
			_, err := c.Write(b[:min(chunk, len(b))])
			require.NoError(t, err)
		}
		require.Len(t, c.pending, 3, "chunks of %d", chunk)
		assert.Equal(t, sentRequest{correlation: 7, version: 1}, c.pending[0])
		assert.Equal(t, sentRequest{correlation: 8, version: 10, rebuild: true,
			from: map[topicPartition]int64{{"users", 2}: 1234}}, c.pending[1])
		assert.Equal(t, sentRequest{correlation: 9, version: 1}, c.pending[2])
	}
}

// A fetch request that cannot be read is not rebuilt: kafka-go gets its response as
// it comes.
func TestCutConnPassesUnreadableFetch(t *testing.T) {
	req := fetchRequestV10(8, "users", 2, 1234)
	req = req[:len(req)-30]
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	c := &cutConn{Conn: discardConn{}}
	_, err := c.Write(req)
	require.NoError(t, err)
	require.Len(t, c.pending, 1)
	assert.False(t, c.pending[0].rebuild)
}

func TestCutMarkerRoundTrip(t *testing.T) {
	for _, c := range []cut{
		{keyBytes: 1, valueBytes: 20 << 20, headerBytes: 3},
		{undecodable: "zstd: window size exceeded", first: 10, last: 19},
		{skipped: "aborted", first: 3, last: 8},
	} {
		got, ok := parseCut(c.encode())
		assert.True(t, ok)
		assert.Equal(t, c, got)
	}
	_, ok := parseCut([]byte("cut 1 2"))
	assert.False(t, ok)
}

// A record the fetch marked as cut is dead-lettered too_large, without the marker; one
// standing for an undecodable batch is dead-lettered undecodable, naming its offsets;
// one standing for a transaction's marker or aborted batch is skipped; a record
// without the marker is no business of fetchcut's.
func TestCutRecord(t *testing.T) {
	fb := New(1<<20, 64<<20)
	original := kafka.Header{Key: "trace", Value: []byte("1")}

	m := kafka.Message{Key: []byte("k"), Value: make([]byte, TruncatedValueBytes), Headers: []kafka.Header{
		original, {Key: fb.marker, Value: cut{valueBytes: 20 << 20}.encode()}}}
	bad, skipped := fb.CutRecord(&m)
	require.NotNil(t, bad)
	assert.False(t, skipped)
	assert.Equal(t, rows.ReasonTooLarge, bad.Reason)
	assert.Contains(t, bad.Detail, "value is 20971520 bytes")
	assert.True(t, bad.Truncated)
	assert.Equal(t, []kafka.Header{original}, m.Headers)

	m = kafka.Message{Partition: 2, Offset: 19, Headers: []kafka.Header{
		{Key: fb.marker, Value: cut{undecodable: "zstd: window size exceeded", first: 10, last: 19}.encode()}}}
	bad, skipped = fb.CutRecord(&m)
	require.NotNil(t, bad)
	assert.False(t, skipped)
	assert.Equal(t, rows.ReasonUndecodable, bad.Reason)
	assert.Contains(t, bad.Detail, "offsets 10 to 19 of partition 2")
	assert.Contains(t, bad.Detail, "window size exceeded")

	m = kafka.Message{Offset: 8, Headers: []kafka.Header{{Key: fb.marker, Value: cut{skipped: "aborted", first: 3, last: 8}.encode()}}}
	bad, skipped = fb.CutRecord(&m)
	assert.Nil(t, bad)
	assert.True(t, skipped)

	forged := kafka.Header{Key: "streampipe.cut.0000000000000000", Value: cut{valueBytes: 20 << 20}.encode()}
	m = kafka.Message{Key: []byte("k"), Value: []byte("{}"), Headers: []kafka.Header{forged}}
	bad, skipped = fb.CutRecord(&m)
	assert.Nil(t, bad)
	assert.False(t, skipped)
	assert.Equal(t, []kafka.Header{forged}, m.Headers)
}

// Snappy, framed (xerial) or not, decodes a chunk at a time; a chunk that would
// decode to more than maxSnappyChunk is refused before it is decoded.
func TestSnappyReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10000)
	got, err := io.ReadAll(&snappyReader{r: bytes.NewReader(snappy.Encode(nil, data))})
	require.NoError(t, err)
	assert.Equal(t, data, got, "unframed")

	framed := append([]byte(nil), xerialMagic...)
	framed = append(framed, 0, 0, 0, 1, 0, 0, 0, 1) // version, compatible version
	for chunk := range slices.Chunk(data, 32<<10) {
		block := snappy.Encode(nil, chunk)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
		framed = append(framed, block...)
	}
	got, err = io.ReadAll(&snappyReader{r: bytes.NewReader(framed)})
	require.NoError(t, err)
	assert.Equal(t, data, got, "framed")

	big := snappy.Encode(nil, make([]byte, maxSnappyChunk+1))
	_, err = io.ReadAll(&snappyReader{r: bytes.NewReader(big)})
	assert.ErrorContains(t, err, "more than")
}

// discardConn is a connection that takes every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error) { return len(b), nil }

// batch is a record batch of records at offsets base, base+1, … as kafka-go's
// protocol package writes it, compressed with codec.
func batch(t *testing.T, base int64, codec compress.Compression, records ...protocol.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	rs := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(codec), Records: protocol.NewRecordReader(records...)}
	_, err := rs.WriteTo(&buf)
	require.NoError(t, err)
	b := buf.Bytes()[4:] // after the size
	binary.BigEndian.PutUint64(b, uint64(base))
	return b
}

// fetchResponseV10 is the body of a fetch response (version 10) for one partition
// of topic t whose records are the given batches, and where its records begin.
func fetchResponseV10(batches ...[]byte) (body []byte, recordsAt int) {
	body = make([]byte, 4+2+4)      // throttle time, error code, session id
	body = append(body, 0, 0, 0, 1) // one topic
	body = append(body, 0, 1, 't')  // t
	body = append(body, 0, 0, 0, 1) // one partition
	body = append(body, make([]byte, 4+2+8+8+8)...)
	body = append(body, 0xff, 0xff, 0xff, 0xff) // no aborted transactions
	recordsAt = len(body)
	records := bytes.Join(batches, nil)
	body = binary.BigEndian.AppendUint32(body, uint32(len(records)))
	return append(body, records...), recordsAt
}

// rebuilt rebuilds a fetch response body for a fetch from offset from and returns
// the records of the rebuilt response, read by kafka-go's protocol package.
func rebuilt(t *testing.T, fb *Bounds, body []byte, recordsAt int, from int64) []protocol.Record {
	t.Helper()
	rb := rebuilder{fb: fb, in: &io.LimitedReader{R: bytes.NewReader(body), N: int64(len(body))},
		from: map[topicPartition]int64{{"t", 0}: from}}
	require.NoError(t, rb.response(10))
	require.Equal(t, body[:recordsAt], rb.out[:recordsAt], "the response up to the records")
	var rs protocol.RecordSet
	_, err := rs.ReadFrom(bytes.NewReader(rb.out[recordsAt:]))
	require.NoError(t, err)
	var out []protocol.Record
	for rs.Records != nil {
		r, err := rs.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		key, err := protocol.ReadAll(r.Key)
		require.NoError(t, err)
		value, err := protocol.ReadAll(r.Value)
		require.NoError(t, err)
		out = append(out, protocol.Record{Offset: r.Offset, Key: protocol.NewBytes(key), Value: protocol.NewBytes(value),
			Headers: slices.Clone(r.Headers)})
	}
	return out
}

func rec(key, value string, headers ...protocol.Header) protocol.Record {
	return protocol.Record{Key: protocol.NewBytes([]byte(key)), Value: protocol.NewBytes([]byte(value)), Headers: headers}
}

func bytesOf(t *testing.T, b protocol.Bytes) string {
	s, err := protocol.ReadAll(b)
	require.NoError(t, err)
	return string(s)
}

// A rebuilt response holds the records from the offset asked for, uncompressed, the
// small ones as they were; a value, key or headers over the limit are cut to
// TruncatedValueBytes and marked; offsets stay.
func TestRebuildCutsLargeRecords(t *testing.T) {
	const limit = 20 << 10
	big := strings.Repeat("v", 3*limit)
	many := make([]protocol.Header, 30)
	for i := range many {
		many[i] = protocol.Header{Key: fmt.Sprint("h", i), Value: make([]byte, 1<<10)}
	}
	for _, codec := range []compress.Compression{0, compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			body, at := fetchResponseV10(
				batch(t, 10, codec, rec("k0", "before"), rec("k1", "small", protocol.Header{Key: "a", Value: []byte("b")})),
				batch(t, 12, codec, rec("k2", big), rec(big, "v3"), rec("k4", "v4", many...), rec("k5", "last")))
			fb := &Bounds{maxRecord: limit, maxResponse: 1 << 20, marker: "marker"}
			got := rebuilt(t, fb, body, at, 11)
			require.Len(t, got, 5)
			for i, r := range got {
				assert.EqualValues(t, 11+i, r.Offset)
			}
			assert.Equal(t, "small", bytesOf(t, got[0].Value))
			assert.Equal(t, []protocol.Header{{Key: "a", Value: []byte("b")}}, got[0].Headers)

			assert.Equal(t, big[:TruncatedValueBytes], bytesOf(t, got[1].Value))
			assert.Equal(t, []protocol.Header{{Key: "marker", Value: cut{valueBytes: 3 * limit}.encode()}}, got[1].Headers)

			assert.Equal(t, big[:TruncatedValueBytes], bytesOf(t, got[2].Key))
			assert.Equal(t, "v3", bytesOf(t, got[2].Value))
			assert.Equal(t, []protocol.Header{{Key: "marker", Value: cut{keyBytes: 3 * limit}.encode()}}, got[2].Headers)

			h := got[3].Headers
			require.NotEmpty(t, h)
			assert.Equal(t, protocol.Header{Key: "marker", Value: cut{headerBytes: 30<<10 + 80 + 30*HeaderOverhead}.encode()}, h[len(h)-1])
			assert.Equal(t, many[:len(h)-1], h[:len(h)-1], "the headers of the first 16 KiB")
			assert.Len(t, h[:len(h)-1], 15)

			assert.Equal(t, "last", bytesOf(t, got[4].Value))
			assert.Empty(t, got[4].Headers)
		})
	}
}

// Empty headers count what kafka-go allocates for each: a record of a hundred
// thousand of them, a few hundred kilobytes on the wire and 4 MB in kafka-go, is cut
// to the headers of its first 16 KiB and marked.
func TestRebuildCountsEmptyHeaders(t *testing.T) {
	empty := make([]protocol.Header, 100_000)
	for i := range empty {
		empty[i] = protocol.Header{Key: "", Value: []byte{}}
	}
	for _, codec := range []compress.Compression{0, compress.Zstd} {
		body, at := fetchResponseV10(batch(t, 0, codec, rec("k0", "v0", empty...), rec("k1", "after")))
		got := rebuilt(t, &Bounds{maxRecord: 1 << 20, maxResponse: 1 << 20, marker: "marker"}, body, at, 0)
		require.Len(t, got, 2)
		h := got[0].Headers
		require.NotEmpty(t, h)
		c, ok := parseCut(h[len(h)-1].Value)
		require.True(t, ok)
		assert.Greater(t, c.headerBytes, 1<<20, "the headers' cost is over the limit")
		assert.LessOrEqual(t, (len(h)-1)*HeaderOverhead, 1<<20, "kafka-go gets at most the limit's worth of headers")
		assert.Equal(t, "after", bytesOf(t, got[1].Value))
	}
}

// A limit under the 16 KiB a cut record keeps: a value over it is kept whole but
// marked cut, and the records after it are read as they are (the rebuild once read
// 16 KiB from a shorter value, into the next records).
func TestRebuildUnderTheKeptBytes(t *testing.T) {
	body, at := fetchResponseV10(batch(t, 0, 0, rec("k0", strings.Repeat("v", 2000)), rec("k1", "ok"), rec("k2", "fine")))
	got := rebuilt(t, &Bounds{maxRecord: 1000, maxResponse: 1 << 20, marker: "marker"}, body, at, 0)
	require.Len(t, got, 3)
	assert.Equal(t, strings.Repeat("v", 2000), bytesOf(t, got[0].Value))
	assert.Equal(t, []protocol.Header{{Key: "marker", Value: cut{valueBytes: 2000}.encode()}}, got[0].Headers)
	assert.Equal(t, "ok", bytesOf(t, got[1].Value))
	assert.Equal(t, "fine", bytesOf(t, got[2].Value))
}

// A rebuilt response holds at most maxResponse bytes of records, and always the
// first record: kafka-go fetches the rest from the offset after the last one.
func TestRebuildStopsAtMaxResponse(t *testing.T) {
	records := make([]protocol.Record, 100)
	for i := range records {
		records[i] = rec(fmt.Sprint("k", i), strings.Repeat("v", 1000))
	}
	body, at := fetchResponseV10(batch(t, 0, compress.Zstd, records...))
	fb := &Bounds{maxRecord: 1 << 20, maxResponse: 10_000, marker: "marker"}
	got := rebuilt(t, fb, body, at, 40)
	require.Len(t, got, 10)
	assert.EqualValues(t, 40, got[0].Offset)
	assert.EqualValues(t, 49, got[9].Offset)

	fb.maxResponse = 1
	got = rebuilt(t, fb, body, at, 99)
	require.Len(t, got, 1)
	assert.EqualValues(t, 99, got[0].Offset)
}

// A batch that cannot be read within the bounds (here a zstd frame asking for a
// 64 MiB window) becomes one record at its last offset that names its offsets.
func TestRebuildMarksUndecodableBatch(t *testing.T) {
	zstdCodec := compress.Codecs[compress.Zstd]
	compress.Codecs[compress.Zstd] = WideZstd{zstdCodec}
	records := make([]protocol.Record, 20)
	for i := range records {
		records[i] = rec(fmt.Sprint("k", i), strings.Repeat(fmt.Sprint(i), 1<<20))
	}
	wide := batch(t, 100, compress.Zstd, records...)
	compress.Codecs[compress.Zstd] = zstdCodec
	body, at := fetchResponseV10(wide)
	fb := &Bounds{maxRecord: 1 << 20, maxResponse: 1 << 20, marker: "marker"}
	got := rebuilt(t, fb, body, at, 105)
	require.Len(t, got, 1)
	assert.EqualValues(t, 119, got[0].Offset)
	assert.Nil(t, got[0].Key, "no key")
	require.Len(t, got[0].Headers, 1)
	c, ok := parseCut(got[0].Headers[0].Value)
	require.True(t, ok)
	assert.Equal(t, int64(105), c.first)
	assert.Equal(t, int64(119), c.last)
	assert.Contains(t, c.undecodable, "window size exceeded")
}

// txBatch is batch with a producer id and the attributes of a transaction's batch
// (protocol.Transactional) or marker (also protocol.Control).
func txBatch(t *testing.T, base, producer int64, attrs protocol.Attributes, records ...protocol.Record) []byte {
	b := batch(t, base, 0, records...)
	binary.BigEndian.PutUint16(b[batchAttrsAt:], uint16(attrs))
	binary.BigEndian.PutUint64(b[batchProducerAt:], uint64(producer))
	sealBatch(b)
	return b
}

// withAborted is a fetch response body of fetchResponseV10 that lists aborted
// transactions, and the body kafka-go gets before the records: the same, listing
// none.
func withAborted(body []byte, recordsAt int, aborted ...abortedTxn) (withList, rebuiltHead []byte) {
	list := binary.BigEndian.AppendUint32(nil, uint32(len(aborted)))
	for _, a := range aborted {
		list = binary.BigEndian.AppendUint64(list, uint64(a.producer))
		list = binary.BigEndian.AppendUint64(list, uint64(a.first))
	}
	head := body[:recordsAt-4]
	return slices.Concat(head, list, body[recordsAt:]), slices.Concat(head, []byte{0, 0, 0, 0})
}

// Transactions: a marker never reaches kafka-go as a record of the topic, nor does a
// batch of an aborted transaction (by the aborted transactions the broker lists);
// each becomes one marked record at its last offset, for the worker to commit past.
// A committed transaction's batches, and batches of no transaction, stay.
func TestRebuildSkipsMarkersAndAbortedTransactions(t *testing.T) {
	const committer, aborter = 7, 9
	tx, marker := protocol.Transactional, protocol.Transactional|protocol.Control
	body, recordsAt := fetchResponseV10(
		txBatch(t, 0, aborter, tx, rec("a0", "aborted"), rec("a1", "aborted")),
		txBatch(t, 2, committer, tx, rec("c2", "committed")),
		txBatch(t, 3, aborter, marker, rec("\x00\x00\x00\x00", "")),   // abort
		txBatch(t, 4, committer, marker, rec("\x00\x00\x00\x01", "")), // commit
		batch(t, 5, compress.Gzip, rec("p5", "plain")),
		txBatch(t, 6, aborter, tx, rec("a6", "committed later")),
		txBatch(t, 7, aborter, marker, rec("\x00\x00\x00\x01", "")), // commit
	)
	body, head := withAborted(body, recordsAt, abortedTxn{producer: aborter, first: 0})
	fb := &Bounds{maxRecord: 1 << 20, maxResponse: 1 << 20, marker: "marker"}
	for _, from := range []int64{0, 1, 3} {
		rb := rebuilder{fb: fb, in: &io.LimitedReader{R: bytes.NewReader(body), N: int64(len(body))},
			from: map[topicPartition]int64{{"t", 0}: from}}
		require.NoError(t, rb.response(10))
		require.Equal(t, head, rb.out[:len(head)], "the response up to the records, no aborted transactions listed")
		var rs protocol.RecordSet
		_, err := rs.ReadFrom(bytes.NewReader(rb.out[len(head):]))
		require.NoError(t, err)
		var got []string
		for {
			r, err := rs.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			v, err := protocol.ReadAll(r.Value)
			require.NoError(t, err)
			kind := string(v)
			if len(r.Headers) == 1 && r.Headers[0].Key == "marker" {
				c, ok := parseCut(r.Headers[0].Value)
				require.True(t, ok)
				kind = fmt.Sprintf("skipped %s %d-%d", c.skipped, c.first, c.last)
			}
			got = append(got, fmt.Sprintf("%d %s", r.Offset, kind))
		}
		want := []string{"1 skipped aborted 0-1", "2 committed", "3 skipped control 3-3", "4 skipped control 4-4",
			"5 plain", "6 committed later", "7 skipped control 7-7"}
		switch from {
		case 1:
			want[0] = "1 skipped aborted 1-1"
		case 3:
			want = want[2:]
		}
		assert.Equal(t, want, got, "from %d", from)
	}
}

// The count of aborted transactions comes from the wire: one larger than the
// response could hold is refused before anything is allocated for it.
func TestRebuildRefusesAnAbortedCountOverTheResponse(t *testing.T) {
	body, recordsAt := fetchResponseV10(batch(t, 0, 0, rec("k", "v")))
	binary.BigEndian.PutUint32(body[recordsAt-4:], 1<<30)
	rb := rebuilder{fb: &Bounds{maxRecord: 1 << 20, maxResponse: 1 << 20, marker: "marker"},
		in: &io.LimitedReader{R: bytes.NewReader(body), N: int64(len(body))}, from: map[topicPartition]int64{}}
	assert.ErrorContains(t, rb.response(10), "1073741824 aborted transactions in a response of")
}
