import Trainer

/// A host arena page-locked for the GPU's copy engines (cuMemHostRegister), so that the copies
/// of parameters and gradients run at the link's speed without a staging copy. The arena is
/// kept alive, and unlocked before it is released.
final class PinnedHostMemory {
    let buffer: FlatBuffer<Float>
    private let gpu: CUDAContext
    private let pinned: Bool

    /// Pins `buffer`; where the driver refuses (a container's locked-memory limit), copies still
    /// work, only slower, so that is not an error.
    init(_ buffer: FlatBuffer<Float>, on gpu: CUDAContext) {
        self.buffer = buffer
        self.gpu = gpu
        pinned = (try? gpu.makeCurrent()) != nil
            && gpu.driver.pinHostMemory(UnsafeMutableRawPointer(buffer.base), buffer.count * MemoryLayout<Float>.stride, 0) == 0
    }

    deinit {
        if pinned { _ = gpu.driver.unpinHostMemory(UnsafeMutableRawPointer(buffer.base)) }
    }
}
