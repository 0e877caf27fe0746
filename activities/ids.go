package activities

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// RecordID is the id of record index of a tick of a run: a name-based (version 5) UUID,
// in the dataset's namespace, of the workflow id, the run id of the run's first
// execution, the tick and the index. A tick sent again therefore carries the same
// ids, and the ids of a run can be computed from its workflow and run ids.
func (d Dataset) RecordID(workflowID, runID string, tick, index int) string {
	// The same bytes as fmt's "%q %q %d %d", without its cost on large ticks.
	name := strconv.AppendQuote(nil, workflowID)
	name = strconv.AppendQuote(append(name, ' '), runID)
	name = strconv.AppendInt(append(name, ' '), int64(tick), 10)
	name = strconv.AppendInt(append(name, ' '), int64(index), 10)
	return uuid.NewSHA1(d.space, name).String()
}

// UserID is the RecordID of a user of the users dataset.
func UserID(workflowID, runID string, tick, index int) string {
	users, _ := LookupDataset(DatasetUsers)
	return users.RecordID(workflowID, runID, tick, index)
}

// tickSeeds derives the sources' seeds of a tick from the same names as RecordID: the
// text seed randomuser.me takes and the number gofakeit takes (never 0, which would
// make gofakeit pick a random seed).
func tickSeeds(workflowID, runID string, tick int) (text string, number int64) {
	sum := sha256.Sum256(fmt.Appendf(nil, "seed %q %q %d", workflowID, runID, tick))
	number = int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
	if number == 0 {
		number = 1
	}
	return hex.EncodeToString(sum[:8]), number
}
