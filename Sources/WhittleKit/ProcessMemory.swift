#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What this process can allocate: the smaller of the machine's physical memory and the process's
/// address-space and data-segment limits (`ulimit -v`, `ulimit -d`). The interpreter's default
/// budgets come from it, so that a tensor too large for the process is refused with an error
/// instead of aborting in the allocator.
public enum ProcessMemory {
    /// Bytes the process may allocate in all, less a margin for the runtime and the libraries
    /// (256 MiB, or a quarter of a smaller limit).
    public static let allocatableBytes: Int = {
        var limit = physicalBytes()
        for resource in limitedResources {
            if let bytes = resourceLimit(resource) { limit = min(limit, bytes) }
        }
        return max(limit - min(256 << 20, limit / 4), 1 << 20)
    }()

    /// The default largest single tensor: 4 GiB, or half of what the process may allocate when that is
    /// less (an element-wise node holds its input and its output at once).
    public static var tensorLimit: Int { min(1 << 32, allocatableBytes / 2) }

    static func physicalBytes() -> Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        let (bytes, overflow) = Int(pages).multipliedReportingOverflow(by: Int(size))
        return overflow ? Int.max : bytes
    }

    #if canImport(Glibc)
    static let limitedResources: [__rlimit_resource_t] = [__rlimit_resource_t(RLIMIT_AS.rawValue), __rlimit_resource_t(RLIMIT_DATA.rawValue)]
    static func resourceLimit(_ resource: __rlimit_resource_t) -> Int? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return limit.rlim_cur > UInt64(Int.max) ? nil : Int(limit.rlim_cur)
    }
    #else
    static let limitedResources: [Int32] = [RLIMIT_AS, RLIMIT_DATA]
    static func resourceLimit(_ resource: Int32) -> Int? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return limit.rlim_cur > UInt64(Int.max) ? nil : Int(limit.rlim_cur)
    }
    #endif
}
