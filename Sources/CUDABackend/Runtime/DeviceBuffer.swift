/// A float32 (or int32) array in a GPU's memory, freed when the last reference goes.
public final class DeviceBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    /// The device address (a CUdeviceptr).
    public let address: UInt64
    public let count: Int
    private let context: CUDAContext

    init(count: Int, context: CUDAContext) throws(CUDAUnavailable) {
        precondition(count > 0, "a device buffer holds at least one element")
        var address: UInt64 = 0
        try context.driver.check(context.driver.allocate(&address, count * MemoryLayout<Element>.stride),
                                 "cuMemAlloc of \(count * MemoryLayout<Element>.stride) bytes")
        self.address = address
        self.count = count
        self.context = context
    }

    deinit {
        // Freeing needs the context current on this thread, which may not be the allocating one.
        try? context.makeCurrent()
        _ = context.driver.free(address)
    }

    /// The address `offset` elements in, for kernels and matrix products that work on a slice.
    public func address(at offset: Int) -> UInt64 {
        precondition(offset >= 0 && offset <= count, "offset \(offset) is outside a buffer of \(count)")
        return address + UInt64(offset * MemoryLayout<Element>.stride)
    }

    /// Copies `source` (at most `count` elements) to the start of the buffer, or at `offset`.
    public func upload(_ source: UnsafeBufferPointer<Element>, at offset: Int = 0) throws(CUDAUnavailable) {
        precondition(offset + source.count <= count, "\(source.count) elements do not fit at \(offset) in \(count)")
        guard let base = source.baseAddress, !source.isEmpty else { return }
        try context.driver.check(
            context.driver.copyToDevice(address(at: offset), base, source.count * MemoryLayout<Element>.stride), "cuMemcpyHtoD")
    }

    /// Copies `destination.count` elements from `offset` to the host.
    public func download(into destination: UnsafeMutableBufferPointer<Element>, from offset: Int = 0) throws(CUDAUnavailable) {
        precondition(offset + destination.count <= count, "\(destination.count) elements are not there at \(offset) in \(count)")
        guard let base = destination.baseAddress, !destination.isEmpty else { return }
        try context.driver.check(
            context.driver.copyToHost(base, address(at: offset), destination.count * MemoryLayout<Element>.stride), "cuMemcpyDtoH")
    }

    /// Sets every element's bytes to zero.
    public func zero() throws(CUDAUnavailable) {
        precondition(MemoryLayout<Element>.stride % 4 == 0, "zero() fills 32-bit words")
        try context.driver.check(context.driver.fill32(address, 0, count * MemoryLayout<Element>.stride / 4), "cuMemsetD32")
    }
}
