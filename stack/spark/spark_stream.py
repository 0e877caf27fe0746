"""The Spark peer: the seed pipeline's Spark Structured Streaming job, run by the
real-Spark cut-over test and by make bench (internal/testkit/sparkpeer starts it).

It reads users records (JSON, record.User's fields) from a Kafka topic from the
earliest offsets, parses them with from_json and appends them to a Cassandra table
with the Spark Cassandra connector, checkpointing to --checkpoint. Every setting is
a flag (--help lists them).

On stdout it writes one line when the query has started and one per finished
batch (its offsets are in the checkpoint's commits/ then), for callers to parse:

    spark-peer ready {"jvm_pid": 1234, "query_id": "..."}
    spark-peer batch {"batch": 0, "rows": 499, "end_offsets": {"0": 159, "1": 163, "2": 177}}
    spark-peer stopped {"batches": 3}

SIGTERM or SIGINT stops the query (query.stop()) and exits 0; so does the
--stop-after-batches-th finished batch. A batch running then is interrupted (or
finishes first, and has its line too).
"""

import argparse
import glob
import json
import os
import signal
import sys
import threading

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.types import StringType, StructField, StructType

# The users table's columns (streaming.Users.Columns), all text in the records.
USER_FIELDS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email",
               "username", "dob", "registered_date", "phone", "picture"]


def parse_args(argv):
    p = argparse.ArgumentParser(description="The seed's Kafka to Cassandra Structured Streaming job.")
    p.add_argument("--brokers", required=True, help="Kafka bootstrap servers, host:port,...")
    p.add_argument("--topic", required=True, help="the topic to read, from its earliest offsets")
    p.add_argument("--cassandra-host", default="127.0.0.1")
    p.add_argument("--cassandra-port", type=int, default=9042)
    p.add_argument("--keyspace", required=True)
    p.add_argument("--table", required=True, help="an existing table with the users columns")
    p.add_argument("--checkpoint", required=True, help="the query's checkpointLocation (a directory)")
    p.add_argument("--jars", required=True, help="a directory whose *.jar are added to Spark's")
    p.add_argument("--trigger-ms", type=int, default=0, help="processing-time trigger; 0: as fast as possible")
    p.add_argument("--max-offsets-per-trigger", type=int, default=0, help="0: unlimited")
    p.add_argument("--stop-after-batches", type=int, default=0, help="0: run until SIGTERM")
    return p.parse_args(argv)


def session(args):
    jars = sorted(glob.glob(os.path.join(args.jars, "*.jar")))
    if not jars:
        sys.exit(f"spark-peer: no jars in {args.jars}")
    # Local only: the driver binds to the loopback interface, not the machine's network.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (SparkSession.builder.appName("streampipe-spark-peer").master("local[2]")
             .config("spark.jars", ",".join(jars))
             .config("spark.cassandra.connection.host", args.cassandra_host)
             .config("spark.cassandra.connection.port", str(args.cassandra_port))
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    return spark


def say(what, fields):
    print(f"spark-peer {what} {json.dumps(fields)}", flush=True)


class BatchReporter(StreamingQueryListener):
    """Prints each finished batch once and sets done after the stop_after-th. Spark
    also reports progress while idle (no new records); those repeat a batch's
    offsets and are skipped."""

    def __init__(self, stop_after, done):
        self.stop_after, self.done, self.seen = stop_after, done, set()

    def onQueryStarted(self, event):
        pass

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        source = p.sources[0]
        if p.batchId in self.seen or source.startOffset == source.endOffset:
            return
        self.seen.add(p.batchId)
        end = next(iter(json.loads(source.endOffset).values()))  # the one topic's
        say("batch", {"batch": p.batchId, "rows": p.numInputRows,
                      "end_offsets": {k: end[k] for k in sorted(end, key=int)}})
        if self.stop_after and len(self.seen) >= self.stop_after:
            self.done.set()


def start_query(spark, args):
    schema = StructType([StructField(f, StringType()) for f in USER_FIELDS])
    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.brokers)
              .option("subscribe", args.topic)
              .option("startingOffsets", "earliest"))
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
    users = (reader.load()
             .select(from_json(col("value").cast("string"), schema).alias("user"))
             .select("user.*"))
    writer = (users.writeStream.format("org.apache.spark.sql.cassandra")
              .option("checkpointLocation", args.checkpoint)
              .option("keyspace", args.keyspace)
              .option("table", args.table))
    if args.trigger_ms:
        writer = writer.trigger(processingTime=f"{args.trigger_ms} milliseconds")
    return writer.start()


def main(argv):
    args = parse_args(argv)
    done = threading.Event()
    # The handlers only set done: the main thread stops the query, not a handler
    # interrupting a call into the JVM.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    spark = session(args)
    reporter = BatchReporter(args.stop_after_batches, done)
    spark.streams.addListener(reporter)
    query = start_query(spark, args)
    jvm_pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    say("ready", {"jvm_pid": jvm_pid, "query_id": str(query.id)})
    while not done.is_set():
        if query.awaitTermination(0.5):
            break  # failed: awaitTermination raised, or stopped from elsewhere
    query.stop()
    say("stopped", {"batches": len(reporter.seen)})
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
