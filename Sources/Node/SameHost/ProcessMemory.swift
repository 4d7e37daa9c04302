import CProcessMemory
#if canImport(Glibc)
import Glibc
#endif

/// Copies out of another process's memory with `process_vm_readv(2)`: how peers proven to run
/// on this machine move averaging chunks without sockets or encryption. The kernel lets a
/// process read another only where it could trace it (same user, or privileges, and Yama's
/// `ptrace_scope` allowing it); anything else fails and the peers keep to the socket.
public enum ProcessMemory {
    public static var currentProcessID: Int32 { getpid() }

    /// Lets the other processes of this user read this one, which Yama's `ptrace_scope` 1 (the
    /// default of Ubuntu and others) allows only to this process's ancestors, so that sibling
    /// peers on one machine can copy from each other. Scopes 2 and 3 still refuse, and so does
    /// the kernel for other users. Nil when allowed or when the kernel has no Yama to ask;
    /// otherwise why not.
    public static func allowReadersOfThisUser() -> String? {
        let code = cohort_allow_readers_of_this_user()
        guard code != 0, code != EINVAL else { return nil }
        return String(cString: strerror(code))
    }

    /// Copies `destination.count` bytes from `address` in process `processID`.
    public static func read(from processID: Int32, at address: UInt64,
                            into destination: UnsafeMutableRawBufferPointer) throws(ProcessMemoryError) {
        guard destination.count > 0 else { return }
        let code = cohort_process_read(processID, address, destination.baseAddress, destination.count)
        guard code == 0 else { throw ProcessMemoryError(processID: processID, code: code) }
    }

    /// Copies `count` bytes from `address` in process `processID` into a new array.
    public static func read(_ count: Int, from processID: Int32, at address: UInt64) throws(ProcessMemoryError) -> [UInt8] {
        var failure: ProcessMemoryError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            do throws(ProcessMemoryError) {
                try read(from: processID, at: address, into: UnsafeMutableRawBufferPointer(buffer))
                initialised = count
            } catch {
                failure = error
                initialised = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}

/// Why another process's memory could not be read.
public struct ProcessMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let processID: Int32
    /// The errno of `process_vm_readv`: EPERM where not allowed, ESRCH when the process is gone,
    /// EFAULT for an address it does not map, ENOSYS off Linux.
    public let code: Int32

    /// The address is not mapped in that process: memory let go, or a bad reference. Unlike
    /// the other causes, it says nothing about later copies from the process.
    public var isUnmappedAddress: Bool { code == EFAULT }

    /// The process is gone: a peer that restarts runs as another process, to be proven anew.
    public var isProcessGone: Bool { code == ESRCH }

    public var description: String {
        "cannot read the memory of process \(processID): \(String(cString: strerror(code)))"
    }
}

/// Bytes at an address that does not move while this object lives, for a proven peer on this
/// machine to copy out. Freed when the last reference goes.
public final class ExposedBytes {
    public let bytes: UnsafeMutableRawBufferPointer
    /// At least one byte, so that even an empty buffer has an address of its own.
    private let allocation: UnsafeMutableRawBufferPointer

    /// `count` bytes that `fill` writes, all of them, before anyone reads them.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        allocation = .allocate(byteCount: max(count, 1), alignment: 64)
        bytes = UnsafeMutableRawBufferPointer(rebasing: allocation[..<count])
        fill(bytes)
    }

    /// `count` zero bytes.
    public convenience init(count: Int) {
        self.init(count: count) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    /// A copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count) { $0.copyMemory(from: source) }
    }

    public var address: UInt64 { UInt64(UInt(bitPattern: allocation.baseAddress)) }

    deinit {
        allocation.deallocate()
    }
}

/// Sixteen bytes that say whether memory a peer was pointed at still holds what it was
/// pointed at: the round id and 1 while it does, zeros after `revoke()`. A reader copies the
/// data, then the lease; if the lease still holds, the data was not touched while it was
/// copied, because the owner of the memory revokes the lease before it reuses the memory.
public final class MemoryLease {
    private let storage = ExposedBytes(count: 16)

    public init() {}

    public var address: UInt64 { storage.address }

    public func grant(roundID: UInt64) {
        storage.bytes.storeBytes(of: roundID.littleEndian, toByteOffset: 0, as: UInt64.self)
        storage.bytes.storeBytes(of: UInt64(1).littleEndian, toByteOffset: 8, as: UInt64.self)
        cohort_memory_fence()
    }

    public func revoke() {
        storage.bytes.storeBytes(of: UInt64(0), toByteOffset: 0, as: UInt64.self)
        storage.bytes.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
        cohort_memory_fence()
    }

    /// Whether the lease at `address` in process `processID` holds for `roundID`.
    public static func holds(roundID: UInt64, in processID: Int32, at address: UInt64) throws(ProcessMemoryError) -> Bool {
        let words = try ProcessMemory.read(16, from: processID, at: address)
        let expected = withUnsafeBytes(of: (roundID.littleEndian, UInt64(1).littleEndian)) { Array($0) }
        return words == expected
    }
}
