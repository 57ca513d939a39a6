// Determinism: a forward pass with a given thread count gives the same bytes every time, and
// across thread counts and batch sizes it agrees to float rounding. (Bit-identity across thread
// counts is not promised: a GEMM split into different row blocks may take other OpenBLAS kernel
// paths. Jobs therefore fix their thread count in the job spec.)

import LanternModels
import LanternTensor
import LanternTestSupport
import Testing

@Test(arguments: ["models/tiny-llama", "models/tiny-gpt2", "models/tiny-llama-q8_0.gguf"])
func outputsAreReproducible(_ path: String) throws {
  let g = try Golden(
    path.hasSuffix(".gguf") ? "models/tiny-llama-q8_0.golden.safetensors" : "\(path)/golden.safetensors")
  var reference: Tensor?
  for threads in [1, 2, 3] {
    let model = try ModelRegistry.load(path: Fixtures.url(path).path, pool: ThreadPool(threadCount: threads))
    let first = try #require(try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen))
    let second = try #require(try model.forward(tokens: g.tokens, batch: g.batch, seqLen: g.seqLen))
    #expect(first.array == second.array, "\(threads) threads: two runs differ")
    if let reference {
      expectClose(first, reference, tol: 1e-5, "\(threads) threads vs 1")
    } else {
      reference = first
    }
    for b in 0..<g.batch {
      let one = Array(g.tokens[(b * g.seqLen)..<((b + 1) * g.seqLen)])
      let row = try #require(try model.forward(tokens: one, batch: 1, seqLen: g.seqLen))
      let ref = Tensor(shape: row.shape, values: Array(first.buffer[(b * row.count)..<((b + 1) * row.count)]))
      expectClose(row, ref, tol: 1e-5, "row \(b) alone vs in a batch")
    }
  }
}
