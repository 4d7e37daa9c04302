/// A value a kernel takes, stored the way cuLaunchKernel reads it: at the address of its slot.
protocol EmulatedArgument {
    func store(at slot: UnsafeMutableRawPointer)
}

extension Int32: EmulatedArgument {
    func store(at slot: UnsafeMutableRawPointer) { slot.storeBytes(of: self, as: Int32.self) }
}

/// A `long long` count.
extension Int64: EmulatedArgument {
    func store(at slot: UnsafeMutableRawPointer) { slot.storeBytes(of: self, as: Int64.self) }
}

extension Float: EmulatedArgument {
    func store(at slot: UnsafeMutableRawPointer) { slot.storeBytes(of: self, as: Float.self) }
}

/// "Device" memory for the emulated kernels: host memory at a fixed address, passed as a pointer.
final class EmulatedBuffer<Element>: EmulatedArgument {
    let count: Int
    let base: UnsafeMutablePointer<Element>

    init(_ elements: [Element]) {
        count = elements.count
        base = .allocate(capacity: max(count, 1))
        base.initialize(from: elements, count: count)
    }

    /// A buffer of `count` copies of `value`: NaN poison for outputs, so an element a kernel
    /// never writes shows.
    convenience init(repeating value: Element, count: Int) {
        self.init(Array(repeating: value, count: count))
    }

    deinit { base.deallocate() }

    var array: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }

    func store(at slot: UnsafeMutableRawPointer) {
        slot.storeBytes(of: UnsafeMutableRawPointer(base), as: UnsafeMutableRawPointer.self)
    }
}

/// A pointer into an `EmulatedBuffer`, for kernels that work on part of one (a tensor of the arena).
extension UnsafeMutablePointer: EmulatedArgument {
    func store(at slot: UnsafeMutableRawPointer) {
        slot.storeBytes(of: UnsafeMutableRawPointer(self), as: UnsafeMutableRawPointer.self)
    }
}
