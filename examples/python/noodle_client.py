#!/usr/bin/env python3
"""A NoodleCore bus client in Python.

Built from Debian's python3-zmq and python3-flatbuffers plus the code that
stock `flatc --python` generates from ../../schemas/*.fbs (the build puts it
in build/python; put that directory on PYTHONPATH).

    noodle_client.py subscribe --events tcp://127.0.0.1:7602 [--topic upgrade/] [--count N]
    noodle_client.py request-upgrade --commands tcp://127.0.0.1:7601 COMPONENT VERSION
    noodle_client.py list-components --commands tcp://127.0.0.1:7601 [--json]
    noodle_client.py upgrade-status --commands tcp://127.0.0.1:7601 UPGRADE_ID [--json]

Queries answer with typed FlatBuffers (schemas/queries.fbs): Accepted.result
holds a QueryResult, read here with the generated classes, never parsed
from text. Listings come in pages (each reply holds what fits the daemon's
reply budget; Accepted.next names where the next page starts);
list-components asks page after page until next is empty.

Against a daemon with a keys file, give its public key and this client's key
pair (upgradectl keys generate): --server-key KEY|FILE --key FILE, or
NOODLE_SERVER_PUBLIC_KEY / NOODLE_CLIENT_KEY, or "server_public_key" /
"client_key" in the client config ($NOODLE_CLIENT_CONFIG, else
~/.config/noodlecore/client.json), in that order of precedence.
"""
import argparse
import json
import os
import stat
import struct
import sys

import flatbuffers
import zmq

from noodle.fb import (Accepted, Command, CommandEnvelope, ComponentType, Event, EventEnvelope, Id128, Phase,
                       QueryAnswer, QueryRegistry, QueryStatus, RegistryResult, Rejected, RejectCode, Reply, ReplyBody,
                       RequestUpgrade, UpgradeCompleted, UpgradeInfo)


def enum_names(enum_class):
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


EVENT_NAMES = enum_names(Event.Event)
REJECT_NAMES = enum_names(RejectCode.RejectCode)
COMPONENT_TYPE_NAMES = enum_names(ComponentType.ComponentType)
PHASE_NAMES = enum_names(Phase.Phase)
ANSWER_NAMES = enum_names(QueryAnswer.QueryAnswer)


def hex_id(struct):
    return "%016x%016x" % (struct.Hi(), struct.Lo())


def client_config():
    path = os.environ.get("NOODLE_CLIENT_CONFIG") or os.path.expanduser("~/.config/noodlecore/client.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def read_public_key(key_or_path):
    if len(key_or_path) == 40 and not os.path.exists(key_or_path):
        return key_or_path
    with open(key_or_path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 1 and len(fields[0]) == 40:
                return fields[0]
            if len(fields) == 2 and fields[0] == "public":
                return fields[1]
    raise SystemExit("%s holds no Z85 public key" % key_or_path)


def read_key_pair(path):
    if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SystemExit("%s holds a secret key but is readable by group or others (chmod 600 it)" % path)
    pair = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 2 and fields[0] in ("public", "secret") and not line.lstrip().startswith("#"):
                pair[fields[0]] = fields[1]
    if set(pair) != {"public", "secret"}:
        raise SystemExit("%s is not a key pair file" % path)
    return pair["public"], pair["secret"]


def secure(sock, args):
    """CURVE on sock when a server key is configured (flags, then environment, then config file)."""
    config = client_config()
    server = args.server_key or os.environ.get("NOODLE_SERVER_PUBLIC_KEY") or config.get("server_public_key")
    key = args.key or os.environ.get("NOODLE_CLIENT_KEY") or config.get("client_key")
    if not server and not key:
        return
    if not (server and key):
        raise SystemExit("CURVE needs both the daemon's public key (--server-key) and this client's key pair (--key)")
    public, secret = read_key_pair(key)
    sock.curve_serverkey = read_public_key(server).encode()
    sock.curve_publickey = public.encode()
    sock.curve_secretkey = secret.encode()


def new_id():
    raw = os.urandom(16)
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def finish_envelope(b, command_type, body, actor):
    """Wraps a finished command table in a CommandEnvelope; the bytes."""
    actor_off = b.CreateString(actor)
    CommandEnvelope.Start(b)
    CommandEnvelope.AddCommandId(b, Id128.CreateId128(b, *new_id()))
    CommandEnvelope.AddActor(b, actor_off)
    CommandEnvelope.AddCommandType(b, command_type)
    CommandEnvelope.AddCommand(b, body)
    b.Finish(CommandEnvelope.End(b), file_identifier=b"NCCM")
    return bytes(b.Output())


def request_upgrade(component, version, actor):
    """A CommandEnvelope carrying a RequestUpgrade, as bytes."""
    b = flatbuffers.Builder(256)
    comp = b.CreateString(component)
    target = b.CreateString(version)
    by = b.CreateString(actor)
    RequestUpgrade.Start(b)
    RequestUpgrade.AddUpgradeId(b, Id128.CreateId128(b, *new_id()))
    RequestUpgrade.AddComponent(b, comp)
    RequestUpgrade.AddTargetVersion(b, target)
    RequestUpgrade.AddRequestedBy(b, by)
    return finish_envelope(b, Command.Command.RequestUpgrade, RequestUpgrade.End(b), actor)


def query_registry_page(after, actor):
    """A QueryRegistry for the page of components after `after` ("": the first)."""
    b = flatbuffers.Builder(128)
    after_off = b.CreateString(after) if after else None
    QueryRegistry.Start(b)
    if after_off is not None:
        QueryRegistry.AddAfter(b, after_off)
    return finish_envelope(b, Command.Command.QueryRegistry, QueryRegistry.End(b), actor)


def query_status(upgrade_id, actor):
    """A QueryStatus of one upgrade (32 hex digits)."""
    if len(upgrade_id) != 32:
        raise SystemExit("%s is not an upgrade id (32 hex digits)" % upgrade_id)
    hi, lo = int(upgrade_id[:16], 16), int(upgrade_id[16:], 16)
    b = flatbuffers.Builder(128)
    QueryStatus.Start(b)
    QueryStatus.AddUpgradeId(b, Id128.CreateId128(b, hi, lo))
    return finish_envelope(b, Command.Command.QueryStatus, QueryStatus.End(b), actor)


def accepted_of(data):
    """The Accepted body of a reply, or None when the reply is something else."""
    reply = Reply.Reply.GetRootAs(data, 0)
    if reply.BodyType() != ReplyBody.ReplyBody.Accepted:
        return None
    a = Accepted.Accepted()
    a.Init(reply.Body().Bytes, reply.Body().Pos)
    return a


def answer_of(a, kind, table_class):
    """The typed answer an Accepted reply carries (Accepted.result, a QueryResult), as table_class.

    ValueError when it carries none or another kind of answer."""
    if a.ResultLength() == 0:
        raise ValueError("the reply carries no query answer")
    result = a.ResultNestedRoot()
    if result.AnswerType() != kind:
        raise ValueError("the reply answers with %s, not %s" % (ANSWER_NAMES.get(result.AnswerType(), "?"),
                                                               ANSWER_NAMES[kind]))
    table = table_class()
    table.Init(result.Answer().Bytes, result.Answer().Pos)
    return table


def text(b):
    return b.decode() if b else ""


def print_reply(data):
    a = accepted_of(data)
    if a is not None:
        ids = [hex_id(a.Ids(i)) for i in range(a.IdsLength())]
        seqs = [a.Seqs(i) for i in range(a.SeqsLength())]
        print("accepted ids=%s seqs=%s" % (",".join(ids), ",".join(map(str, seqs))))
        return 0
    reply = Reply.Reply.GetRootAs(data, 0)
    r = Rejected.Rejected()
    r.Init(reply.Body().Bytes, reply.Body().Pos)
    print("rejected %s: %s" % (REJECT_NAMES.get(r.Code(), r.Code()), r.Message().decode()))
    for i in range(r.ErrorsLength()):
        e = r.Errors(i)
        print("  - %s: %s" % (e.Code().decode(), e.Message().decode()))
    return 1


def command_socket(args):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    secure(s, args)
    s.connect(args.commands)
    return s


def call(s, args, command):
    """Sends a command; its Reply bytes, or an exit code (3: no reply, 4: garbled)."""
    request_id = os.urandom(8)
    s.send_multipart([request_id, command])
    if not s.poll(args.timeout_ms):
        print("no reply from %s" % args.commands, file=sys.stderr)
        return 3
    frames = s.recv_multipart()
    if len(frames) != 2 or frames[0] != request_id:
        print("unexpected reply frames", file=sys.stderr)
        return 4
    return frames[1]


def cmd_request_upgrade(args):
    data = call(command_socket(args), args, request_upgrade(args.component, args.version, args.actor))
    return data if isinstance(data, int) else print_reply(data)


def component_dict(info):
    """A ComponentInfo as JSON-ready data, in the shape flatc gives it (the fields this client shows)."""
    spec = info.Spec()
    metadata = [spec.Metadata(i) for i in range(spec.MetadataLength())]
    return {"spec": {"name": spec.Name().decode(), "version": spec.Version().decode(),
                     "type": COMPONENT_TYPE_NAMES.get(spec.Type(), str(spec.Type())),
                     "metadata": [{"key": kv.Key().decode(), "value": (kv.Value() or b"").decode()} for kv in metadata]},
            "registered_seq": info.RegisteredSeq(), "updated_seq": info.UpdatedSeq()}


def call_accepted(s, args, body):
    """The Accepted body of the reply to body; otherwise the exit code (an int), the reply printed."""
    data = call(s, args, body)
    if isinstance(data, int):
        return data
    a = accepted_of(data)
    return print_reply(data) if a is None else a


def cmd_list_components(args):
    s = command_socket(args)
    whole = {"components": []}
    after = ""
    for _ in range(1000000):  # each page holds a component at least
        a = call_accepted(s, args, query_registry_page(after, args.actor))
        if isinstance(a, int):
            return a
        try:
            page = answer_of(a, QueryAnswer.QueryAnswer.RegistryResult, RegistryResult.RegistryResult)
            whole["components"] += [component_dict(page.Components(i)) for i in range(page.ComponentsLength())]
        except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
            print("garbled reply: %s" % e, file=sys.stderr)
            return 4
        whole["seq"] = page.Seq()
        nxt = a.Next()
        if not nxt:
            break
        if nxt.decode() == after:
            print("the next page starts where this one did", file=sys.stderr)
            return 4
        after = nxt.decode()
    if args.json:
        print(json.dumps(whole))
    else:
        for c in whole["components"]:
            print("%s %s" % (c["spec"]["name"], c["spec"]["version"]))
    return 0


def cmd_upgrade_status(args):
    a = call_accepted(command_socket(args), args, query_status(args.upgrade_id, args.actor))
    if isinstance(a, int):
        return a
    try:
        u = answer_of(a, QueryAnswer.QueryAnswer.UpgradeInfo, UpgradeInfo.UpgradeInfo)
        status = {"id": hex_id(u.Id()), "component": text(u.Component()), "from_version": text(u.FromVersion()),
                  "to_version": text(u.ToVersion()), "phase": PHASE_NAMES.get(u.Phase(), str(u.Phase())),
                  "weight": u.Weight(), "reason": text(u.Reason())}
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
        print("garbled reply: %s" % e, file=sys.stderr)
        return 4
    if args.json:
        print(json.dumps(status))
    else:
        print("%(id)s %(component)s %(from_version)s -> %(to_version)s %(phase)s weight %(weight)d%% %(reason)s" % status)
    return 0


def cmd_subscribe(args):
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, args.topic.encode())
    secure(s, args)
    s.connect(args.events)
    print("subscribed", flush=True)
    seen = 0
    while args.count == 0 or seen < args.count:
        if not s.poll(args.timeout_ms):
            print("no event within %d ms" % args.timeout_ms, file=sys.stderr)
            return 3
        topic, data = s.recv_multipart()
        if topic.startswith(b"$"):
            continue  # "$head": the daemon's signed chain head, not an event
        env = EventEnvelope.EventEnvelope.GetRootAs(data, 0)
        name = EVENT_NAMES.get(env.EventType(), str(env.EventType()))
        line = "seq %d %s %s (topic %s)" % (env.Seq(), env.Stream().decode(), name, topic.decode())
        if env.EventType() == Event.Event.UpgradeCompleted:
            done = UpgradeCompleted.UpgradeCompleted()
            done.Init(env.Event().Bytes, env.Event().Pos)
            line += ": %s %s -> %s" % (done.Component().decode(), done.FromVersion().decode(), done.ToVersion().decode())
        print(line, flush=True)
        seen += 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("subscribe", help="print events from the PUB endpoint")
    s.add_argument("--events", default="tcp://127.0.0.1:7602")
    s.add_argument("--topic", default="", help="prefix filter: a stream prefix such as upgrade/ or component/db#")
    s.add_argument("--count", type=int, default=0, help="stop after this many events (0: never)")
    s.add_argument("--timeout-ms", type=int, default=30000)
    s.set_defaults(run=cmd_subscribe)
    r = sub.add_parser("request-upgrade", help="send a RequestUpgrade and print the reply")
    r.add_argument("--commands", default="tcp://127.0.0.1:7601")
    r.add_argument("--actor", default="python-client")
    r.add_argument("--timeout-ms", type=int, default=5000)
    r.add_argument("component")
    r.add_argument("version")
    r.set_defaults(run=cmd_request_upgrade)
    ls = sub.add_parser("list-components", help="list every registered component, page after page")
    ls.add_argument("--commands", default="tcp://127.0.0.1:7601")
    ls.add_argument("--actor", default="python-client")
    ls.add_argument("--timeout-ms", type=int, default=5000)
    ls.add_argument("--json", action="store_true", help="print the whole registry as JSON")
    ls.set_defaults(run=cmd_list_components)
    us = sub.add_parser("upgrade-status", help="print one upgrade's phase, read from the typed answer")
    us.add_argument("--commands", default="tcp://127.0.0.1:7601")
    us.add_argument("--actor", default="python-client")
    us.add_argument("--timeout-ms", type=int, default=5000)
    us.add_argument("--json", action="store_true", help="print it as JSON")
    us.add_argument("upgrade_id")
    us.set_defaults(run=cmd_upgrade_status)
    for parser in (s, r, ls, us):
        parser.add_argument("--server-key", help="the daemon's CURVE public key (Z85, or its .pub file)")
        parser.add_argument("--key", help="this client's CURVE key pair file")
    args = p.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
