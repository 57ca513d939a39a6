// LZ4 frames (the LZ4 frame format, lz4_Frame_format.md) through liblz4, with every checksum on.
//
// liblz4 leaves the content checksum off by default; without it a flipped bit inside a stored
// (incompressible) block decodes silently, so the encoder turns on the content checksum, the
// per-block checksums and the content size, and the decoder refuses frames that lack any of
// them. Decoding calls `LZ4F_decompress` in a loop until the frame ends, and resets its
// context after an error so the decoder can be reused. Left out: streaming compression across
// calls (each shard block is one whole frame, compressed in one call) and dictionaries.

import CLZ4

/// Why an LZ4 frame did not encode or decode; callers wrap it in a `ShardError` with context.
struct LZ4FrameError: Error, Equatable {
  let reason: String
}

/// One-shot LZ4 frame compression with content size and all checksums enabled.
enum LZ4FrameEncoder {
  /// Frame preferences for `contentSize` raw bytes: independent blocks of up to 256 KB (4 MB for
  /// larger contents), xxh32 block and content checksums, the content size in the frame header.
  static func preferences(contentSize: Int) -> LZ4F_preferences_t {
    var prefs = LZ4F_preferences_t()
    prefs.frameInfo.blockSizeID = contentSize <= 256 << 10 ? LZ4F_max256KB : LZ4F_max4MB
    prefs.frameInfo.blockMode = LZ4F_blockIndependent
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled
    prefs.frameInfo.frameType = LZ4F_frame
    prefs.frameInfo.contentSize = UInt64(contentSize)
    prefs.compressionLevel = 0
    return prefs
  }

  /// The largest frame `compress` can produce for `contentSize` bytes.
  static func bound(contentSize: Int) -> Int {
    var prefs = preferences(contentSize: contentSize)
    return LZ4F_compressFrameBound(contentSize, &prefs)
  }

  /// Compresses `source` into `destination` (at least `bound(contentSize:)` bytes); returns the
  /// frame's length.
  static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer)
    throws(LZ4FrameError) -> Int
  {
    var prefs = preferences(contentSize: source.count)
    guard let dst = destination.baseAddress, destination.count >= bound(contentSize: source.count) else {
      throw LZ4FrameError(reason: "output buffer smaller than LZ4F_compressFrameBound")
    }
    let written = LZ4F_compressFrame(dst, destination.count, source.baseAddress, source.count, &prefs)
    if LZ4F_isError(written) != 0 {
      throw LZ4FrameError(reason: String(cString: LZ4F_getErrorName(written)))
    }
    return written
  }
}

/// A reusable LZ4 frame decoder (one per reader; not shared between threads).
final class LZ4FrameDecoder {
  private let context: OpaquePointer

  init() throws(LZ4FrameError) {
    var dctx: OpaquePointer?
    let code = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
    guard LZ4F_isError(code) == 0, let dctx else {
      throw LZ4FrameError(reason: "cannot create an LZ4 decompression context")
    }
    context = dctx
  }

  deinit { LZ4F_freeDecompressionContext(context) }

  /// Decodes the single frame in `source`, which must fill `destination` exactly, declare that
  /// content size, carry block and content checksums, and end exactly at the end of `source`.
  func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer)
    throws(LZ4FrameError)
  {
    do {
      try run(source, destination)
    } catch {
      LZ4F_resetDecompressionContext(context)
      throw error
    }
  }

  private func run(_ source: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer)
    throws(LZ4FrameError)
  {
    guard let src = source.baseAddress, source.count > 0 else {
      throw LZ4FrameError(reason: "empty frame")
    }
    var info = LZ4F_frameInfo_t()
    var consumed = source.count
    let hint = LZ4F_getFrameInfo(context, &info, src, &consumed)
    if LZ4F_isError(hint) != 0 {
      throw LZ4FrameError(reason: "frame header: " + String(cString: LZ4F_getErrorName(hint)))
    }
    guard info.contentChecksumFlag == LZ4F_contentChecksumEnabled,
      info.blockChecksumFlag == LZ4F_blockChecksumEnabled
    else {
      throw LZ4FrameError(reason: "frame lacks its block or content checksum")
    }
    guard info.contentSize == UInt64(destination.count) else {
      throw LZ4FrameError(reason: "frame declares \(info.contentSize) bytes, expected \(destination.count)")
    }
    var options = LZ4F_decompressOptions_t()
    options.stableDst = 1
    var sourcePosition = consumed
    var outputPosition = 0
    let dst = destination.baseAddress ?? UnsafeMutableRawPointer(mutating: src)
    while true {
      var inputSize = source.count - sourcePosition
      var outputSize = destination.count - outputPosition
      let result = LZ4F_decompress(
        context, dst + outputPosition, &outputSize, src + sourcePosition, &inputSize, &options)
      if LZ4F_isError(result) != 0 {
        throw LZ4FrameError(reason: String(cString: LZ4F_getErrorName(result)))
      }
      sourcePosition += inputSize
      outputPosition += outputSize
      if result == 0 { break }
      if inputSize == 0 && outputSize == 0 {
        throw LZ4FrameError(reason: "frame ends early (\(result) more bytes expected)")
      }
    }
    guard sourcePosition == source.count else {
      throw LZ4FrameError(reason: "\(source.count - sourcePosition) bytes follow the end of the frame")
    }
    guard outputPosition == destination.count else {
      throw LZ4FrameError(reason: "frame decoded to \(outputPosition) bytes, expected \(destination.count)")
    }
  }
}
