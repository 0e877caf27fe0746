package rows

// DeadLetterSuffix ends the name of a topic's default dead-letter topic.
const DeadLetterSuffix = ".dlq"

// DeadLetterTopic is the default dead-letter topic of topic: topic + ".dlq".
func DeadLetterTopic(topic string) string { return topic + DeadLetterSuffix }

// HeaderPrefix begins the name of every header a dead letter gains (and a replay
// adds): what is not the record's own.
const HeaderPrefix = "dlq."

// Headers a dead-lettered message carries besides its original ones.
const (
	HeaderReason    = "dlq.reason"    // a Reason constant
	HeaderError     = "dlq.error"     // what exactly is wrong
	HeaderTopic     = "dlq.topic"     // source topic
	HeaderPartition = "dlq.partition" // source partition, decimal
	HeaderOffset    = "dlq.offset"    // source offset, decimal
	HeaderTimestamp = "dlq.timestamp" // source record time, Unix milliseconds
	HeaderStack     = "dlq.stack"     // reason panic: the decoder's stack trace, at most 4 KiB
	HeaderTruncated = "dlq.truncated" // "true": the value (and maybe the key) is cut (reason too_large)
	// HeaderFirst is where a replayed record was first published,
	// topic/partition/offset: a replay sets it, and keeps it through later replays, so
	// that the record keeps its RecordID.
	HeaderFirst = "dlq.first"
)
