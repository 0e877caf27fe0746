# The seed's registered-users producer (kafka-python + Faker), its producer and send
# lines as the seed has them: each record a JSON string "<name>$<address>$<year>", no
# key. The bootstrap server and the topic may come from the environment, so that a test
# gives it a topic of its own (the seed's: registered_user_2 on localhost:9092); the loop
# of 20 records and the flush stand for a run of the seed's.
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
