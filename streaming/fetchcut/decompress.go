package fetchcut

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go"
)

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
