// The journal's byte layout (one record checked against bytes made with Python's zlib.crc32), round
// trips, and replay after truncation at every byte (a torn tail is dropped, never an error) versus
// damage before the end (an error naming the offset).

import Testing

@testable import LanternWire

let sampleRecords: [JournalRecord] = [
  .started(epoch: 1, jobID: "job", unitCount: 3, fingerprint: 0xDEAD_BEEF),
  .leased(unit: "u1", attempt: Attempt(epoch: 1, sequence: 1), worker: "w0"),
  .failed(unit: "u1", attempt: Attempt(epoch: 1, sequence: 1), worker: "w0", reason: "CUDA out of memory: ü"),
  .released(unit: "u2", attempt: Attempt(epoch: 1, sequence: 2), worker: "w1", reason: "worker left"),
  .committed(unit: "u2", attempt: Attempt(epoch: 1, sequence: 3), worker: "w1"),
  .excluded(worker: "w0", reason: "failed 3 distinct units"),
  .started(epoch: 2, jobID: "job", unitCount: 3, fingerprint: 0xDEAD_BEEF),
]

func journalBytes(_ records: [JournalRecord]) -> [UInt8] {
  records.reduce(Journal.header) { $0 + Journal.encode($1) }
}

@Test func recordLayoutMatchesZlibCRC() {
  // python3: payload = b'\x02' + b'\x00\x02u1' + (1<<32|1).to_bytes(8,'big') + b'\x00\x02w0'
  //          zlib.crc32(len(payload).to_bytes(4,'big') + payload) == 0x2754d1a6
  let expected: [UInt8] = [
    0x00, 0x00, 0x00, 0x11, 0x27, 0x54, 0xD1, 0xA6, 0x02, 0x00, 0x02, 0x75, 0x31, 0x00, 0x00, 0x00, 0x01,
    0x00,
    0x00, 0x00, 0x01, 0x00, 0x02, 0x77, 0x30,
  ]
  #expect(Journal.encode(sampleRecords[1]) == expected)
  #expect(Journal.header == [0x4C, 0x4E, 0x54, 0x4A, 0x52, 0x4E, 0x4C, 0x01])
}

@Test func recordsRoundTrip() throws {
  let bytes = journalBytes(sampleRecords)
  let replay = try Journal.replay(bytes)
  #expect(replay.records == sampleRecords)
  #expect(replay.validLength == bytes.count)
  #expect(!replay.tornTail)
  #expect(sampleRecords.map(\.requiresSync) == [true, false, true, false, false, true, true])
}

@Test func truncationAtEveryByteIsATornTail() throws {
  let bytes = journalBytes(sampleRecords)
  var boundaries = [Journal.header.count]
  for record in sampleRecords { boundaries.append(boundaries.last! + Journal.encode(record).count) }
  for cut in 0...bytes.count {
    let replay = try Journal.replay(Array(bytes[0..<cut]))
    let complete = boundaries.filter { $0 <= cut }
    let expectedCount = max(0, complete.count - 1)
    #expect(replay.records == Array(sampleRecords.prefix(expectedCount)), "cut at \(cut)")
    #expect(replay.validLength == (cut < Journal.header.count ? 0 : complete.last!), "cut at \(cut)")
    #expect(replay.tornTail == (cut != 0 && !boundaries.contains(cut)), "cut at \(cut)")
  }
}

@Test func damagedLastRecordAndZeroTailAreTorn() throws {
  var bytes = journalBytes(sampleRecords)
  bytes[bytes.count - 3] ^= 0x40
  let replay = try Journal.replay(bytes)
  #expect(replay.records == Array(sampleRecords.dropLast()))
  #expect(replay.tornTail)
  let zeroTail = journalBytes(sampleRecords) + Array(repeating: 0, count: 4096)
  let zeroReplay = try Journal.replay(zeroTail)
  #expect(zeroReplay.records == sampleRecords)
  #expect(zeroReplay.validLength == zeroTail.count - 4096)
}

@Test func damageBeforeTheEndIsAnErrorNamingTheOffset() throws {
  let bytes = journalBytes(sampleRecords)
  let secondRecord = Journal.header.count + Journal.encode(sampleRecords[0]).count
  var flipped = bytes
  flipped[secondRecord + 12] ^= 0x01
  let error = try #require(throws: WireError.self) { try Journal.replay(flipped) }
  #expect(error.kind == .journalCorrupt && error.offset == secondRecord)
  var hugeLength = bytes
  hugeLength[secondRecord] = 0x7F
  // A length running past the end of the file cannot be told from a torn append.
  #expect(try Journal.replay(hugeLength).records == [sampleRecords[0]])
  var zeroLength = bytes
  for index in secondRecord..<secondRecord + 4 { zeroLength[index] = 0 }
  #expect(throws: WireError.self) { try Journal.replay(zeroLength) }
}

@Test func foreignFilesAndBadPayloadsAreRejected() throws {
  #expect(throws: WireError.self) { try Journal.replay(Array("{\"not\": \"a journal\"}".utf8)) }
  #expect(throws: WireError.self) { try Journal.replay([0x4C, 0x4E, 0x58]) }
  #expect(try Journal.replay([0x4C, 0x4E, 0x54]).validLength == 0)
  // A well-checksummed record with a byte after its last field, and one of an unknown type.
  for payload: [UInt8] in [[6, 0, 2, 0x77, 0x30, 0, 0, 0xFF], [9, 0, 0]] {
    let length = BigEndian.bytes(UInt32(payload.count))
    let record = length + BigEndian.bytes(CRC32.update(CRC32.checksum(length), payload)) + payload
    let error = try #require(throws: WireError.self) {
      try Journal.replay(Journal.header + record + Journal.encode(sampleRecords[0]))
    }
    #expect(error.kind == .journalCorrupt && error.offset == 8)
  }
}
