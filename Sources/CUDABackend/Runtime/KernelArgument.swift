/// One argument of a kernel launch, by value as the kernel declares it: device pointers, `int`
/// sizes, `long long` counts and `float` scalars.
public enum KernelArgument: Sendable {
    case buffer(UInt64)
    case int32(Int32)
    case int64(Int64)
    case float(Float)

    public static func pointer<Element>(_ buffer: DeviceBuffer<Element>, at offset: Int = 0) -> KernelArgument {
        .buffer(buffer.address(at: offset))
    }

    public static func int(_ value: Int) -> KernelArgument {
        precondition(value >= Int(Int32.min) && value <= Int(Int32.max), "\(value) does not fit a kernel's int")
        return .int32(Int32(value))
    }

    public static func count(_ value: Int) -> KernelArgument { .int64(Int64(value)) }
}

/// Calls `body` with the `void**` array cuLaunchKernel takes: one pointer to each argument's value.
func withKernelParameters<R>(
    _ arguments: [KernelArgument], _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> R
) -> R {
    // Eight bytes hold any argument; each value sits at the start of its slot.
    let slots = UnsafeMutableRawPointer.allocate(byteCount: max(arguments.count, 1) * 8, alignment: 8)
    defer { slots.deallocate() }
    var pointers: [UnsafeMutableRawPointer?] = []
    for (index, argument) in arguments.enumerated() {
        let slot = slots + index * 8
        switch argument {
        case .buffer(let address): slot.storeBytes(of: address, as: UInt64.self)
        case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
        case .int64(let value): slot.storeBytes(of: value, as: Int64.self)
        case .float(let value): slot.storeBytes(of: value, as: Float.self)
        }
        pointers.append(slot)
    }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
