"""The notebook's use case in a real Jupyter kernel (ipykernel, driven by nbclient): what the
notebook shows is what this test reads."""

import re

import nbformat
from nbclient import NotebookClient

TWEETS = 3100  # 100 of them multiples of 31

CELLS = [
    # The notebook's stream, offline: generated tweets, VADER for sentiment.
    '''
import collections, random, time
import timbr
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

analyzer = SentimentIntensityAnalyzer()
WORDS = ["good", "bad", "great", "awful", "dogs", "cats", "love", "hate", "meh", "wow", ":)"]

def tweets(n):
    rng = random.Random(31)
    for i in range(1, n + 1):
        time.sleep(0.0005)  # a stream, not a list
        yield {"id": i, "text": " ".join(rng.choice(WORDS) for _ in range(8))}

recent_data = collections.deque(maxlen=50)

def raise_error_every_now_and_then(input):
    if input["id"] % 31 == 0:
        raise TypeError(f"tweet {input['id']} is a multiple of 31")
''',
    '''
MACHINE = timbr.Machine(handler=[timbr.StopWhenDone(), timbr.LogAndContinue()], total=%d)
MACHINE[0] = lambda x: x.get("text", "")
MACHINE[1] = lambda x: analyzer.polarity_scores(x)["compound"]
MACHINE[2] = lambda a, b: recent_data.append((b, a))
MACHINE[3] = raise_error_every_now_and_then
''' % TWEETS,
    '''
MACHINE.display(interval=0.1)
MACHINE.set_source(tweets(%d))
MACHINE.start()
print("finished:", MACHINE.wait(timeout=120))
''' % TWEETS,
    "MACHINE",
    "len(recent_data), MACHINE.status['counts']['failed'], MACHINE.status['stages'][3]['errors']",
    '''
DEBUG = timbr.Machine(handler=timbr.Debugger())
DEBUG[0] = lambda x: x.get("text", "")
DEBUG[3] = raise_error_every_now_and_then
for t in tweets(40):
    DEBUG.put(t)
DEBUG.start()
DEBUG.wait(timeout=60)
DEBUG.kept
''',
    "DEBUG.kept.replay()",
]


class CountingClient(NotebookClient):
    """Counts the display updates the kernel sends while cells run."""

    updates = 0

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "update_display_data":
            self.updates += 1
        return super().process_message(msg, cell, cell_index)


def test_the_notebooks_use_case_in_a_real_kernel():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = CountingClient(nb, timeout=300, kernel_name="python3", allow_errors=True)
    client.execute()
    outputs = [cell.outputs for cell in nb.cells]
    for i in range(5):
        errors = [o for o in outputs[i] if o.output_type == "error"]
        assert not errors, (i, errors)

    # The live display: shown once, then updated in place while the machine ran.
    assert client.updates >= 3, client.updates
    text = "".join(o.get("text", "") for o in outputs[2] if o.output_type == "stream")
    assert "finished: completed" in text

    # The machine shows itself as an HTML status with the right counts and per-stage errors.
    html = outputs[3][0]["data"]["text/html"]
    assert "completed" in html
    numbers = re.sub(r"<[^>]+>", " ", html).replace(",", "")
    assert re.search(r"processed\s+3000\b", numbers), numbers[:2000]
    assert re.search(r"failed\s+100\b", numbers), numbers[:2000]
    assert "raise_error_every_now_and_then" in html
    assert outputs[4][0]["data"]["text/plain"] == "(50, 100, 100)"

    # The debugger stopped on tweet 31 and its replay raises the real exception.
    assert "tweet 31 is a multiple of 31" in outputs[5][0]["data"]["text/plain"]
    error = [o for o in outputs[6] if o.output_type == "error"][0]
    assert error.ename == "TypeError" and error.evalue == "tweet 31 is a multiple of 31"
    traceback = "\n".join(error.traceback)
    assert "raise_error_every_now_and_then" in traceback and "replay" in traceback
