// The LWP/1 codec against the frame tables of docs/protocol.md: byte layouts written out by hand from
// the spec, a round trip of every command, one garbled case per field (each expecting its own error),
// and seeded mutation fuzzing (decode either throws WireError or returns a canonical message).

import Testing

@testable import LanternWire

let signature: [UInt8] = [0x4C, 0x57, 0x50, 0x01]

/// One of every command, with fields that exercise each frame.
let everyMessage: [Message] = [
  .ready(
    Ready(
      capabilities: Capabilities(cores: 8, memoryBytes: 1 << 33, kinds: ["extract", "train"]),
      holding: Holding(unit: "u7", attempt: Attempt(epoch: 1, sequence: 2), phase: .published),
      incarnation: 5, sequence: 2)),
  .ready(
    Ready(
      minVersion: 1, maxVersion: 3, capabilities: Capabilities(cores: 1, memoryBytes: 1, kinds: ["a"]),
      holding: nil,
      incarnation: 1, sequence: 1)),
  .welcome(Welcome(heartbeatMs: 1000, jobID: "job-1")),
  .assign(
    Assignment(
      unit: "u1", attempt: Attempt(epoch: 3, sequence: 17), leaseMs: 120_000, kind: "extract", spec: [])),
  .heartbeat,
  .progress(
    unit: "blocks.3.hook_resid_post/000042", attempt: Attempt(epoch: 1, sequence: 1), completed: 5, total: 9),
  .progress(unit: "ü-ñ", attempt: Attempt(epoch: 1, sequence: 1), completed: 99, total: 0),
  .commit(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4)),
  .authorize(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4), commitLeaseMs: 60_000),
  .refuse(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4), reason: "lease expired"),
  .committed(
    unit: "u1", attempt: Attempt(epoch: 2, sequence: 4),
    outputs: [
      OutputRecord(path: "shards/a/1.lshard", size: 4096, checksum: "crc32:1c291ca3"),
      OutputRecord(path: "shards/b/1.lshard", size: 0, checksum: "x"),
    ]),
  .committed(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4), outputs: []),
  .ack(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4)),
  .failed(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4), reason: ""),
  .revoke(unit: "u1", attempt: Attempt(epoch: 2, sequence: 4), reason: "committed by attempt 2.5"),
  .draining,
  .disconnect(code: .leaving, reason: "SIGTERM"),
]

@Test func everyCommandRoundTrips() throws {
  for message in everyMessage {
    #expect(try Message.decode(message.encode()) == message)
  }
  #expect(Set(everyMessage.map(\.command)) == Set(Command.allCases))
}

@Test func framesMatchTheSpecByteForByte() throws {
  #expect(Message.heartbeat.encode() == [signature, [0x04]])
  let assign = Message.assign(
    Assignment(
      unit: "u1", attempt: Attempt(epoch: 3, sequence: 17), leaseMs: 120_000, kind: "extract",
      spec: [0x7B, 0x7D]))
  #expect(
    assign.encode() == [
      signature, [0x03], [0x75, 0x31], [0, 0, 0, 3, 0, 0, 0, 0x11], [0x00, 0x01, 0xD4, 0xC0],
      Array("extract".utf8),
      [0x7B, 0x7D],
    ])
  let ready = everyMessage[0].encode()
  #expect(
    ready == [
      signature, [0x01], [1, 1], [0, 0, 0, 8], [0, 0, 0, 2, 0, 0, 0, 0], Array("extract,train".utf8),
      [0, 0, 0, 1, 0, 0, 0, 2, 1, 0x75, 0x37], [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2],
    ])
  let committed = Message.committed(
    unit: "u", attempt: Attempt(epoch: 1, sequence: 1),
    outputs: [OutputRecord(path: "a/b", size: 4096, checksum: "crc:1")])
  #expect(committed.encode()[4] == [0, 0, 0, 0, 0, 0, 0x10, 0, 5] + Array("crc:1a/b".utf8))
  #expect(
    Message.disconnect(code: .rejected, reason: "no").encode() == [signature, [0x0E], [2], [0x6E, 0x6F]])
  #expect(Attempt(epoch: 3, sequence: 17).description == "3.17")
  #expect(Attempt(epoch: 3, sequence: 17).hex == "0000000300000011")
}

/// Decodes `frames` and returns the error's kind, command and field.
func decodeError(_ frames: [[UInt8]]) -> (WireError.Kind, String?, String?)? {
  do {
    _ = try Message.decode(frames)
    return nil
  } catch let error as WireError {
    return (error.kind, error.command, error.field)
  } catch {
    return nil
  }
}

func replacing(_ message: Message, frame index: Int, with bytes: [UInt8]) -> [[UInt8]] {
  var frames = message.encode()
  frames[index] = bytes
  return frames
}

@Test func garbledMessagesNameTheirCommandAndField() throws {
  let ready = everyMessage[0]
  let progress = everyMessage[5]
  let committed = everyMessage[10]
  let failed = everyMessage[13]
  let cases: [([[UInt8]], WireError.Kind, String?, String?)] = [
    ([], .frameCount, nil, nil),
    (Array(repeating: [0], count: 133), .frameCount, nil, nil),
    ([[0x4C, 0x57, 0x51, 1], [4]], .signature, nil, "signature"),
    ([[0x4C, 0x57, 0x50, 2], [4]], .version, nil, "signature"),
    ([signature], .frameCount, nil, nil),
    ([signature, [4, 4]], .fieldSize, nil, "command"),
    ([signature, [0x0F]], .command, nil, "command"),
    ([signature, [0x04], []], .frameCount, "HEARTBEAT", nil),
    (Array(ready.encode().dropLast()), .frameCount, "READY", nil),
    (replacing(ready, frame: 2, with: [2, 1]), .fieldValue, "READY", "versions"),
    (replacing(ready, frame: 3, with: [0, 0, 0, 0]), .fieldValue, "READY", "cores"),
    (replacing(ready, frame: 3, with: [0, 1, 0, 1]), .fieldValue, "READY", "cores"),
    (replacing(ready, frame: 4, with: [0, 0, 0, 0, 0, 0, 0, 0]), .fieldValue, "READY", "memory"),
    (replacing(ready, frame: 4, with: [1]), .fieldSize, "READY", "memory"),
    (replacing(ready, frame: 5, with: Array("Extract".utf8)), .fieldValue, "READY", "kinds"),
    (replacing(ready, frame: 5, with: Array("a,a".utf8)), .fieldValue, "READY", "kinds"),
    (replacing(ready, frame: 5, with: Array("a,".utf8)), .fieldValue, "READY", "kinds"),
    (
      replacing(ready, frame: 5, with: Array((0..<17).map { "k\($0)" }.joined(separator: ",").utf8)),
      .fieldValue, "READY", "kinds"
    ),
    (replacing(ready, frame: 6, with: [0, 0, 0, 1]), .fieldSize, "READY", "holding"),
    (
      replacing(ready, frame: 6, with: [0, 0, 0, 1, 0, 0, 0, 1, 7, 0x75]), .fieldValue, "READY",
      "holding phase"
    ),
    (
      replacing(ready, frame: 6, with: [0, 0, 0, 0, 0, 0, 0, 1, 0, 0x75]), .fieldValue, "READY",
      "holding attempt"
    ),
    (replacing(ready, frame: 7, with: Array(repeating: 0, count: 12)), .fieldValue, "READY", "session"),
    (replacing(progress, frame: 2, with: []), .fieldValue, "PROGRESS", "unit"),
    (replacing(progress, frame: 2, with: Array(repeating: 0x61, count: 257)), .fieldSize, "PROGRESS", "unit"),
    (replacing(progress, frame: 2, with: [0xC3, 0x28]), .fieldValue, "PROGRESS", "unit"),
    (replacing(progress, frame: 2, with: [0x61, 0x0A]), .fieldValue, "PROGRESS", "unit"),
    (replacing(progress, frame: 3, with: [0, 0, 0, 1, 0, 0, 0]), .fieldSize, "PROGRESS", "attempt"),
    (replacing(progress, frame: 3, with: [0, 0, 0, 1, 0, 0, 0, 0]), .fieldValue, "PROGRESS", "attempt"),
    (replacing(progress, frame: 4, with: [0, 0, 0, 0, 0, 0, 0, 10]), .fieldValue, "PROGRESS", "completed"),
    (replacing(failed, frame: 4, with: Array(repeating: 0x61, count: 1025)), .fieldSize, "FAILED", "reason"),
    (replacing(failed, frame: 4, with: [0x61, 0x00]), .fieldValue, "FAILED", "reason"),
    (replacing(everyMessage[8], frame: 4, with: [0, 0, 0, 0]), .fieldValue, "AUTHORIZE", "commit lease"),
    (replacing(everyMessage[8], frame: 4, with: [0x80, 0, 0, 0]), .fieldValue, "AUTHORIZE", "commit lease"),
    (
      replacing(everyMessage[3], frame: 6, with: Array(repeating: 0, count: 65_537)), .fieldSize, "ASSIGN",
      "spec"
    ),
    (replacing(everyMessage[3], frame: 5, with: Array("a b".utf8)), .fieldValue, "ASSIGN", "kind"),
    (replacing(everyMessage[2], frame: 2, with: [2]), .version, "WELCOME", "version"),
    (replacing(everyMessage[2], frame: 4, with: []), .fieldValue, "WELCOME", "job"),
    (replacing(committed, frame: 4, with: [0, 0, 0, 0]), .fieldSize, "COMMITTED", "output 0"),
    (
      replacing(committed, frame: 5, with: [0, 0, 0, 0, 0, 0, 0, 1, 200, 0x61, 0x61]), .fieldSize,
      "COMMITTED", "output 1 checksum"
    ),
    (
      replacing(committed, frame: 5, with: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0x20, 0x61]), .fieldValue, "COMMITTED",
      "output 1 checksum"
    ),
    (
      replacing(committed, frame: 5, with: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0x61] + Array("/etc".utf8)),
      .fieldValue, "COMMITTED", "output 1 path"
    ),
    (
      replacing(committed, frame: 5, with: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0x61] + Array("a/../b".utf8)),
      .fieldValue, "COMMITTED", "output 1 path"
    ),
    (
      replacing(committed, frame: 5, with: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0x61] + Array("a//b".utf8)),
      .fieldValue, "COMMITTED", "output 1 path"
    ),
    (replacing(committed, frame: 5, with: committed.encode()[4]), .fieldValue, "COMMITTED", "output 1 path"),
    (replacing(everyMessage[16], frame: 2, with: [9]), .fieldValue, "DISCONNECT", "code"),
  ]
  for (frames, kind, command, field) in cases {
    let got = decodeError(frames)
    #expect(
      got?.0 == kind && got?.1 == command && got?.2 == field,
      "expected \(kind) \(command ?? "-") \(field ?? "-")")
  }
  let error = try #require(throws: WireError.self) {
    try Message.decode(replacing(ready, frame: 3, with: [0, 0, 0, 0]))
  }
  #expect(error.description.contains("READY field 'cores'") && error.description.contains("HINT"))
}

@Test func mutatedMessagesThrowOrDecodeCanonically() throws {
  var random = SplitMix64(seed: 42)
  var decoded = 0
  for round in 0..<20_000 {
    var frames = everyMessage[round % everyMessage.count].encode()
    for _ in 0...(random.next() % 3) {
      let index = Int(random.next() % UInt64(frames.count))
      switch random.next() % 5 {
      case 0 where !frames[index].isEmpty:
        let at = Int(random.next() % UInt64(frames[index].count))
        frames[index][at] ^= UInt8(truncatingIfNeeded: random.next() | 1)
      case 1: frames[index].append(UInt8(truncatingIfNeeded: random.next()))
      case 2 where !frames[index].isEmpty: frames[index].removeLast()
      case 3: frames.remove(at: index)
      default: frames.insert(Array(repeating: 0x41, count: Int(random.next() % 12)), at: index)
      }
      if frames.isEmpty { break }
    }
    do {
      let message = try Message.decode(frames)
      #expect(message.encode() == frames)
      decoded += 1
    } catch is WireError {
    }
  }
  #expect(decoded > 100)
}

@Test func crc32MatchesTheStandardCheckValue() {
  #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
  #expect(CRC32.checksum([UInt8]()) == 0)
}

@Test func clipKeepsWholeCharacters() {
  #expect(Limits.clip("abc", to: 2) == "ab")
  #expect(Limits.clip("aé", to: 2) == "a")
  #expect(Limits.clip("a\0b") == "a b")
  #expect(Limits.clip(String(repeating: "ü", count: 600)).utf8.count == 1024)
}
