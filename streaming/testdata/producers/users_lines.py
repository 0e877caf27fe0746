# The tutorial's format_data users of a recorded randomuser.me response (the file named
# by the first argument), one JSON line each on stdout: what a person pipes into
# kafka-console-producer.
import json
import sys

from tutorial_users import format_data, get_data

for res in get_data(sys.argv[1]):
    print(json.dumps(format_data(res)))
