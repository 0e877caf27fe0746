# Users records through librdkafka (confluent-kafka), as Kafka Streams, Flink's
# exactly-once sink or Debezium produce them: the tutorial's format_data users of a
# recorded randomuser.me response, keyed by id, with headers.
#
#   librdkafka_users.py CODEC RESPONSE [INVALID...]
#       an idempotent producer (enable.idempotence) with compression.type CODEC (gzip,
#       snappy, lz4 or zstd): every user, then each INVALID value (keyed "invalid-N").
#   librdkafka_users.py transactions RESPONSE [INVALID...]
#       a transactional producer, three transactions: the first third of the users and
#       the INVALID values, committed, and the second third and the INVALID values,
#       aborted, each spread over every partition of the topic; the last third,
#       committed, over every partition but the last, which so ends with the abort's
#       marker (the others with a commit's).
#
# The bootstrap server and the topic come from KAFKA_BOOTSTRAP and TOPIC. It prints one
# JSON line per record it produced, as its delivery report has it: partition, offset,
# key, value, headers and, for the transactions, "committed" or "aborted" in txn.
import json
import os
import sys

from confluent_kafka import KafkaException, Producer

from tutorial_users import format_data, get_data

CODECS = ('gzip', 'snappy', 'lz4', 'zstd')


def main(mode, path, invalid):
    bootstrap, topic = os.environ['KAFKA_BOOTSTRAP'], os.environ['TOPIC']
    users = [json.dumps(format_data(res)) for res in get_data(path)]
    records = [(json.loads(u)['id'], u) for u in users]
    bad = [(f'invalid-{i}', v) for i, v in enumerate(invalid)]
    report = []
    if mode in CODECS:
        p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'compression.type': mode,
                      'linger.ms': 50})
        send(p, topic, records + bad, report, None, {'codec': mode})
        if p.flush(30) > 0:
            raise SystemExit('records left unsent after 30 s')
    elif mode == 'transactions':
        p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': f'streampipe-test-{topic}', 'linger.ms': 5})
        partitions = len(p.list_topics(topic, timeout=10).topics[topic].partitions)
        p.init_transactions(30)
        third = len(records) // 3
        for txn, batch, spread in (('committed', records[:third] + bad, partitions),
                                   ('aborted', records[third:2 * third] + bad, partitions),
                                   ('committed', records[2 * third:], max(1, partitions - 1))):
            p.begin_transaction()
            send(p, topic, batch, report, spread, {'txn': txn})
            p.flush(30)
            if txn == 'committed':
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
    else:
        raise SystemExit(f'unknown mode {mode!r}: want one of {", ".join(CODECS)} or transactions')
    for r in report:
        print(json.dumps(r))


def send(p, topic, batch, report, partitions, extra):
    """Produces batch ((key, value) pairs) with headers, spread over the first partitions
    partitions if given (else the partitioner's choice), and adds each record's delivery
    report to report."""
    for i, (key, value) in enumerate(batch):
        headers = {'producer': 'confluent-kafka', 'seq': str(i), **extra}

        def delivered(err, msg, headers=headers):
            if err is not None:
                raise KafkaException(err)
            report.append({'partition': msg.partition(), 'offset': msg.offset(), 'key': msg.key().decode(),
                           'value': msg.value().decode(), 'headers': headers, 'txn': extra.get('txn')})

        kw = {} if partitions is None else {'partition': i % partitions}
        p.produce(topic, value.encode(), key.encode(), headers=[(k, v.encode()) for k, v in headers.items()],
                  on_delivery=delivered, **kw)
        p.poll(0)

if __name__ == '__main__':
    if len(sys.argv) < 3:
        raise SystemExit('usage: librdkafka_users.py CODEC|transactions RESPONSE [INVALID...]')
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
