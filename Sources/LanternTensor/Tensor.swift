// Tensor: a contiguous, row-major, 64-byte-aligned Float32 buffer with a shape.
//
// It is a reference type on purpose: kernels take raw pointers into it, the thread pool writes
// disjoint rows from several threads, and weights are shared read-only across forward passes.
// That makes it `@unchecked Sendable`: callers may write concurrently only to disjoint elements.
// Views, strides and broadcasting are left out; kernels receive pointers and sizes, llm.c style.

/// A contiguous row-major Float32 tensor.
public final class Tensor: @unchecked Sendable {
  /// Dimensions, outermost first (PyTorch order).
  public let shape: [Int]
  /// Number of elements (product of `shape`).
  public let count: Int
  /// Start of the storage; valid for `count` elements for the tensor's lifetime.
  public let pointer: UnsafeMutablePointer<Float>

  /// A zero-filled tensor of the given shape.
  public init(shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    let n = shape.reduce(1, *)
    self.shape = shape
    self.count = n
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1) * 4, alignment: 64)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(n, 1) * 4)
    self.pointer = raw.bindMemory(to: Float.self, capacity: max(n, 1))
  }

  /// A tensor holding `values` (row-major) with the given shape.
  public convenience init(shape: [Int], values: [Float]) {
    self.init(shape: shape)
    precondition(values.count == count, "\(values.count) values for shape \(shape)")
    values.withUnsafeBufferPointer { src in
      if let base = src.baseAddress { pointer.update(from: base, count: count) }
    }
  }

  deinit { UnsafeMutableRawPointer(pointer).deallocate() }

  /// The elements as an array (a copy).
  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

  /// The storage as a buffer pointer.
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }

  /// Element access by flat index (tests and slow paths only).
  public subscript(flat i: Int) -> Float {
    get { pointer[i] }
    set { pointer[i] = newValue }
  }

  /// A copy with a new shape of the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    let t = Tensor(shape: newShape)
    precondition(t.count == count, "cannot reshape \(shape) to \(newShape)")
    t.pointer.update(from: pointer, count: count)
    return t
  }

  /// Fills every element with `value`.
  public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }
}
