package fetchcut

import (
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// WideZstd is kafka-go's zstd codec writing frames that ask for a 64 MiB window,
// which brokers take (up to 128 MiB) and the worker refuses (over 8 MiB). It is
// for tests (of this package and of the engine's) that need such a batch.
type WideZstd struct{ compress.Codec }

func (WideZstd) NewWriter(w io.Writer) io.WriteCloser {
	enc, err := zstd.NewWriter(w, zstd.WithWindowSize(64<<20), zstd.WithSingleSegment(false), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err) // the options are constant
	}
	return enc
}
