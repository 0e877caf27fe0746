# The seed's registered-users producer (kafka-python + Faker), as the seed has it: each
# record a JSON string "<name>$<address>$<year>", no key. Only the bootstrap server and
# the topic come from the environment, so a test can give it its own topic; the seed
# sent 20 records to registered_user_2 on localhost:9092.
import json
import os

from faker import Faker
from kafka import KafkaProducer

faker = Faker()
json_serializer = lambda data: json.dumps(data).encode('utf-8')
producer = KafkaProducer(bootstrap_servers=[os.environ.get('KAFKA_BOOTSTRAP', 'localhost:9092')],
                         value_serializer=json_serializer)

for _ in range(20):
    producer.send(os.environ.get('TOPIC', "registered_user_2"), faker.name()+"$"+faker.address()+"$"+faker.year())
producer.flush()
