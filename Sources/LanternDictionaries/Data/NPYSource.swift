// NPYSource: rows from .npy matrices [N, d] of float32 or float16 (activations made elsewhere),
// with an optional paired target matrix [N, d_out] for transcoders.
//
// The file is read row range by row range with pread(2), converting f16 → f32 on the fly, so
// memory stays at what the stream asks for, whatever N is. Units are fixed-size row blocks
// ("rows a..<b", default 4,096 rows) for the held-out split and the shuffle.
//
// .npy layout (NEP 1; the full reader is LanternFormats/NPY.swift, which loads a whole array):
//  1. magic "\x93NUMPY"  2. version u8 major (1, 2 or 3), u8 minor = 0
//  3. header length H: u16 (v1) or u32 (v2, v3), little-endian
//  4. H bytes: {'descr': '<f4', 'fortran_order': False, 'shape': (N, d), } padded with spaces, '\n'
//  5. data: N·d items, C order, starting right after the header; nothing may follow.
// Accepted: descr '<f4' or '<f2', C order, rank 2, N ≥ 1 and d ≥ 1. Left out: f64, bf16 (numpy
// has no bf16 descr), memory mapping (a file truncated underneath would raise SIGBUS).

import Foundation
import LanternTensor

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A validated [N, d] float32 or float16 .npy file, read by row ranges.
public struct NPYMatrix: Sendable, Equatable {
  public let path: String
  /// Rows N.
  public let rows: Int
  /// Columns d.
  public let columns: Int
  /// Bytes per element: 4 (float32) or 2 (float16).
  public let elementSize: Int
  /// Offset of the first element.
  public let dataOffset: Int

  /// Opens `url` and validates its header and size.
  public init(url: URL) throws {
    path = url.path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw DataError.badNPY(
        path: path, reason: "cannot open: \(String(cString: strerror(errno)))", hint: "check the path")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      throw DataError.badNPY(path: path, reason: "cannot stat", hint: "check the path")
    }
    let fileSize = Int(st.st_size)
    let fixed = try NPYMatrix.readBytes(fd, count: min(fileSize, 12), at: 0, path: path)
    let bad = { (reason: String) in
      DataError.badNPY(
        path: url.path, reason: reason, hint: "save it with np.save(path, a.astype(np.float32))")
    }
    guard fixed.count >= 10, fixed[0] == 0x93, Array(fixed[1..<6]) == Array("NUMPY".utf8) else {
      throw bad("not an .npy file (bad magic)")
    }
    let major = fixed[6]
    guard (1...3).contains(major), fixed[7] == 0 else {
      throw bad("unsupported .npy version \(major).\(fixed[7])")
    }
    let lengthSize = major == 1 ? 2 : 4
    guard fixed.count >= 8 + lengthSize else { throw bad("truncated header") }
    var headerLength = 0
    for i in 0..<lengthSize { headerLength |= Int(fixed[8 + i]) << (8 * i) }
    let headerStart = 8 + lengthSize
    guard headerLength <= 1 << 20, headerStart + headerLength <= fileSize else {
      throw bad("header length \(headerLength) does not fit the file (\(fileSize) bytes)")
    }
    let text = String(
      decoding: try NPYMatrix.readBytes(fd, count: headerLength, at: headerStart, path: path), as: UTF8.self)
    let header = try NPYMatrix.parseHeader(text, path: path)
    guard !header.fortran else { throw bad("the array is in Fortran order; save np.ascontiguousarray(a)") }
    switch header.descr {
    case "<f4": elementSize = 4
    case "<f2": elementSize = 2
    default: throw bad("dtype '\(header.descr)' is not float32 ('<f4') or float16 ('<f2')")
    }
    guard header.shape.count == 2 else { throw bad("shape \(header.shape) is not [N, d]") }
    rows = header.shape[0]
    columns = header.shape[1]
    guard columns >= 1 else { throw bad("shape \(header.shape) has no columns") }
    dataOffset = headerStart + headerLength
    let (bytes, overflow) = (rows * columns).multipliedReportingOverflow(by: elementSize)
    guard !overflow, dataOffset + bytes == fileSize else {
      throw bad("shape \(header.shape) needs \(bytes) data bytes but the file holds \(fileSize - dataOffset)")
    }
  }

  /// Parses numpy's header dict: exactly 'descr', 'fortran_order' and 'shape'.
  static func parseHeader(_ text: String, path: String) throws -> (descr: String, fortran: Bool, shape: [Int])
  {
    func bad(_ reason: String) -> DataError {
      .badNPY(
        path: path, reason: "header \(text.debugDescription): \(reason)", hint: "write the file with np.save")
    }
    func value(of key: String) throws -> Substring {
      guard let range = text.range(of: "'\(key)':") else { throw bad("no '\(key)'") }
      return text[range.upperBound...].drop { $0 == " " }
    }
    let descrText = try value(of: "descr")
    guard descrText.first == "'", let end = descrText.dropFirst().firstIndex(of: "'") else {
      throw bad("bad descr")
    }
    let descr = String(descrText[descrText.index(after: descrText.startIndex)..<end])
    let fortranText = try value(of: "fortran_order")
    let fortran: Bool
    if fortranText.hasPrefix("False") {
      fortran = false
    } else if fortranText.hasPrefix("True") {
      fortran = true
    } else {
      throw bad("bad fortran_order")
    }
    let shapeText = try value(of: "shape")
    guard shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else { throw bad("bad shape") }
    let inner = shapeText[shapeText.index(after: shapeText.startIndex)..<close]
    var shape: [Int] = []
    for part in inner.split(separator: ",") {
      let digits = part.trimmingCharacters(in: .whitespaces)
      if digits.isEmpty { continue }
      guard let n = Int(digits), n >= 0 else { throw bad("bad shape entry '\(digits)'") }
      shape.append(n)
    }
    guard text.components(separatedBy: "':").count == 4 else {
      throw bad("keys other than descr, fortran_order, shape")
    }
    return (descr, fortran, shape)
  }

  static func readBytes(_ fd: Int32, count: Int, at offset: Int, path: String) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withUnsafeMutableBytes { try readExactly(fd, into: $0, at: offset, path: path) }
    return bytes
  }

  static func readExactly(
    _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String
  )
    throws
  {
    var done = 0
    while done < buffer.count {
      let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        throw DataError.badNPY(
          path: path, reason: "read at offset \(offset + done) failed (file truncated?)",
          hint: "check the file")
      }
      done += n
    }
  }

  /// Reads rows `range` as Float32 into `out`, row r at `out + (r - range.lowerBound) * stride`.
  public func readRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>, stride: Int? = nil) throws
  {
    guard range.lowerBound >= 0, range.upperBound <= rows else {
      throw DataError.invalidSetting(name: "rows", reason: "\(range) is outside \(path)'s \(rows) rows")
    }
    if range.isEmpty { return }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw DataError.badNPY(
        path: path, reason: "cannot open: \(String(cString: strerror(errno)))", hint: "check the path")
    }
    defer { close(fd) }
    let count = range.count * columns
    let offset = dataOffset + range.lowerBound * columns * elementSize
    let rowStride = stride ?? columns
    if elementSize == 4 && rowStride == columns {
      try NPYMatrix.readExactly(
        fd, into: UnsafeMutableRawBufferPointer(start: out, count: count * 4), at: offset, path: path)
      return
    }
    let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: count * elementSize, alignment: 64)
    defer { raw.deallocate() }
    try NPYMatrix.readExactly(fd, into: raw, at: offset, path: path)
    for r in 0..<range.count {
      let dst = out + r &* rowStride
      let src = raw.baseAddress! + r &* columns &* elementSize
      if elementSize == 4 {
        dst.update(from: src.assumingMemoryBound(to: Float.self), count: columns)
      } else {
        HalfPrecision.float16ToFloat32(src.assumingMemoryBound(to: UInt16.self), dst, count: columns)
      }
    }
  }
}

/// Rows from an [N, d] .npy matrix, with an optional paired [N, d_out] target matrix.
public final class NPYSource: ActivationSource {
  public let inputs: NPYMatrix
  public let targets: NPYMatrix?
  public let inputHooks: [HookColumns]
  public let targetHooks: [HookColumns]
  public let units: [DataUnit]
  public let defaultExcludedTokenIDs: [Int32] = []
  public var name: String { inputs.path + (targets.map { " → " + $0.path } ?? "") }

  /// Opens `inputs` (and `targets`), cut into units of `blockRows` rows.
  public init(inputs: URL, targets: URL? = nil, blockRows: Int = 4096) throws {
    guard blockRows >= 1 else {
      throw DataError.invalidSetting(name: "blockRows", reason: "\(blockRows) < 1")
    }
    self.inputs = try NPYMatrix(url: inputs)
    self.targets = try targets.map { try NPYMatrix(url: $0) }
    if let t = self.targets, t.rows != self.inputs.rows {
      throw DataError.rowCountMismatch(
        inputs: inputs.path, inputRows: self.inputs.rows, targets: t.path, targetRows: t.rows)
    }
    guard self.inputs.rows > 0 else {
      throw DataError.empty(subject: inputs.path, reason: "the array has 0 rows")
    }
    inputHooks = [HookColumns(name: "inputs", width: self.inputs.columns, offset: 0)]
    targetHooks = self.targets.map { [HookColumns(name: "targets", width: $0.columns, offset: 0)] } ?? []
    units = rowBlocks(rowCount: self.inputs.rows, blockRows: blockRows)
  }

  private func unitStart(_ index: Int) -> Int { index * (units.first?.rowCount ?? 0) }

  public func read(
    unit: DataUnit, rows: Range<Int>, inputs out: UnsafeMutablePointer<Float>,
    targets: UnsafeMutablePointer<Float>?
  ) throws -> RowSide {
    let base = unitStart(unit.index)
    let global = (base + rows.lowerBound)..<(base + rows.upperBound)
    try inputs.readRows(global, into: out)
    var norms = [rowNorms(out, count: rows.count, stride: inputs.columns, offset: 0, width: inputs.columns)]
    if let t = self.targets, let targets {
      try t.readRows(global, into: targets)
      norms.append(rowNorms(targets, count: rows.count, stride: t.columns, offset: 0, width: t.columns))
    }
    return RowSide(tokenIDs: nil, norms: norms)
  }

  public func readSide(unit: DataUnit, rows: Range<Int>) throws -> RowSide {
    var x = [Float](repeating: 0, count: rows.count * inputs.columns)
    var y = [Float](repeating: 0, count: rows.count * (targets?.columns ?? 0))
    return try x.withUnsafeMutableBufferPointer { xb in
      try y.withUnsafeMutableBufferPointer { yb in
        try read(
          unit: unit, rows: rows, inputs: xb.baseAddress!, targets: targets == nil ? nil : yb.baseAddress)
      }
    }
  }
}
