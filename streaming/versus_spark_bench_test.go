package streaming_test

import "testing"

// sparkContender is the seed's Spark Structured Streaming job.
func sparkContender(p *pipe) contender {
	return contender{name: "Spark", setting: "local[2]", table: testKeyspace + "." + p.table + "_spark", rates: []int{1000},
		start: func(b *testing.B) (*running, string) { return nil, "the Spark peer is not there yet" }}
}
