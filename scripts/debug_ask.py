"""Print everything about one answer: passages, draft sentences and why each was kept or dropped (dev aid)."""
import sys

from chatbot.pipeline import Pipeline
from chatbot.types import Query

pipeline = Pipeline()
for question in sys.argv[1:]:
    reply = pipeline.answer(Query(question))
    print("Q:", question, "| route", reply.route, "| flags", reply.flags, "|", reply.timings_ms)
    for p in reply.passages:
        print(f"   passage {p.score:.3f} {p.chunk.chunk_id} {p.chunk.section}")
    for c in reply.checks:
        print(f"   {'KEEP' if c.kept else 'drop'} {c.reason:22s} sup={c.support:.2f} cov={c.coverage:.2f} | {c.text}")
    print("A:", reply.text, "\n")
