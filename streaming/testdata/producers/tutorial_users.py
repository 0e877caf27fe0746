# The users producer of the Airflow tutorial the Airflow seeds are built on: format_data
# copies the randomuser.me fields, the post code exactly as the API returns it (a JSON
# number for some nationalities, a string for others), a fresh uuid4 as id, and each
# user goes to users_created as JSON, no key. The tutorial asks randomuser.me for one
# user at a time; here get_data reads a recorded API response (the file named by the
# first argument) and streams all its users. The bootstrap server and the topic come
# from the environment, so a test can give it its own topic.
import json
import os
import sys
import uuid

from kafka import KafkaProducer


def get_data(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)['results']


def format_data(res):
    data = {}
    location = res['location']
    data['id'] = str(uuid.uuid4())
    data['first_name'] = res['name']['first']
    data['last_name'] = res['name']['last']
    data['gender'] = res['gender']
    data['address'] = f"{str(location['street']['number'])} {location['street']['name']}, " \
                      f"{location['city']}, {location['state']}, {location['country']}"
    data['post_code'] = location['postcode']
    data['email'] = res['email']
    data['username'] = res['login']['username']
    data['dob'] = res['dob']['date']
    data['registered_date'] = res['registered']['date']
    data['phone'] = res['phone']
    data['picture'] = res['picture']['medium']
    return data


def stream_data(path):
    producer = KafkaProducer(bootstrap_servers=[os.environ.get('KAFKA_BOOTSTRAP', 'localhost:9092')], max_block_ms=5000)
    for res in get_data(path):
        res = format_data(res)
        producer.send(os.environ.get('TOPIC', 'users_created'), json.dumps(res).encode('utf-8'))
    producer.flush()


if __name__ == '__main__':
    stream_data(sys.argv[1])
