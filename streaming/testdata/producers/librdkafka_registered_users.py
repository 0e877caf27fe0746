# The seed's registered users (Faker: a JSON string "<name>$<address>$<year>") through
# librdkafka (confluent-kafka), each keyed by a uuid4 as a keyed producer sends them,
# from an idempotent producer, with headers: 20 records, then each INVALID value, keyed
# by a uuid4 too (so that its value, not its key, is what is wrong).
#
#   librdkafka_registered_users.py [INVALID...]
#
# The bootstrap server and the topic come from KAFKA_BOOTSTRAP and TOPIC. It prints one
# JSON line per record it produced, as librdkafka_users.py does.
import json
import os
import sys
import uuid

from confluent_kafka import Producer
from faker import Faker

from librdkafka_users import send


def main(invalid):
    faker = Faker()
    records = [(str(uuid.uuid4()), json.dumps(faker.name() + "$" + faker.address() + "$" + faker.year()))
               for _ in range(20)]
    bad = [(str(uuid.uuid4()), v) for v in invalid]
    report = []
    p = Producer({'bootstrap.servers': os.environ['KAFKA_BOOTSTRAP'], 'enable.idempotence': True, 'linger.ms': 50})
    send(p, os.environ['TOPIC'], records + bad, report, None, {})
    if p.flush(30) > 0:
        raise SystemExit('records left unsent after 30 s')
    for r in report:
        print(json.dumps(r))


if __name__ == '__main__':
    main(sys.argv[1:])
