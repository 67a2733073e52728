"""Measures reading the message boards on a seeded platform (started by Benchmarks/BoardsRead/run)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import call, processes, route_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", default="1 32")
    options = parser.parse_args()
    gateway = options.gateway

    board = call("GET", gateway + "/v1/boards/general/threads")
    thread = board["items"][len(board["items"]) // 2]["id"]
    posts = call("GET", gateway + "/v1/threads/%s/posts?limit=20" % thread)
    middle = call("GET", gateway + "/v1/threads/%s/posts?limit=20&cursor=%s" % (thread, posts["nextCursor"]))
    print("a board page holds %d threads; a thread page %d posts by %d authors" % (
        len(board["items"]), len(middle["items"]), len({p["author"].get("id") for p in middle["items"]})))
    routes = [
        ("floor", "GET /v1/boards (the floor)", [gateway + "/v1/boards"]),
        ("board", "GET /v1/boards/general/threads (first page)", [gateway + "/v1/boards/general/threads"]),
        ("thread", "GET /v1/threads/{id}/posts (second page of 20)",
         [gateway + "/v1/threads/%s/posts?limit=20&cursor=%s" % (thread, posts["nextCursor"])]),
        ("search", "GET /v1/boards/search?q=tower%20sword", [gateway + "/v1/boards/search?q=tower%20sword"]),
        ("phrase", "the same, q=\"tower sword\" (a phrase no post holds)", [gateway + "/v1/boards/search?q=%22tower%20sword%22"]),
    ]
    groups = processes(options.bin_dir, options.data_dir)
    route_table(routes, [int(c) for c in options.connections.split()], options.seconds, groups,
                ["gateway", "broker", "boards", "accounts", "postgres"], width=50)
    return 0


if __name__ == "__main__":
    sys.exit(main())
