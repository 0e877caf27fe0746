module github.com/streampipe/streampipe

go 1.26

require (
	github.com/apache/cassandra-gocql-driver/v2 v2.1.2 // indirect
	github.com/brianvoe/gofakeit/v6 v6.28.0 // indirect
	github.com/go-resty/resty/v2 v2.17.2 // indirect
	github.com/klauspost/compress v1.15.9 // indirect
	github.com/pierrec/lz4/v4 v4.1.15 // indirect
	github.com/segmentio/kafka-go v0.4.51 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.temporal.io/sdk v1.50.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
)
