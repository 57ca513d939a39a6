// LanternFormats: readers and writers for the tensor files Lantern meets, validating every byte.
//
// - safetensors (Hugging Face checkpoints, SAELens exports): `SafetensorsFile`, `SafetensorsWriter`
// - GGUF v2/v3 (llama.cpp models) with dequantization of the common ggml types: `GGUFFile`
// - .npy v1/v2/v3 (numpy arrays, test fixtures, activation dumps): `NPY`
//
// Readers map files read-only, check every length, count and offset with overflow-checked
// arithmetic before touching memory, and throw `FormatError` naming the file, the tensor or key
// and the offset. Model readers conform to `TensorSource`, which hands out Float32 tensors in
// PyTorch order whatever the stored type. Left out: writing GGUF, and any lazy/strided views.

import LanternTensor

/// A file of named tensors that can be loaded as Float32.
///
/// Shapes are in PyTorch order (outermost first; a GGUF tensor's dims reversed). Asking for a
/// name the file does not hold throws `FormatError.missingTensor`.
public protocol TensorSource: AnyObject, Sendable {
  /// The file the tensors come from.
  var path: String { get }
  /// Every tensor name, in file order.
  var tensorNames: [String] { get }
  /// The tensor's shape, outermost dimension first.
  func shape(of name: String) throws -> [Int]
  /// The tensor converted (or dequantized) to Float32, row-major, in a fresh `Tensor`.
  func loadTensor(_ name: String) throws -> Tensor
}
