public import ServiceKit

/// What the directory needs beyond the settings every worker service has.
public struct DirectorySettings: Sendable {
    /// The prices per minute an advisor may ask, in cents (`DIRECTORY_PRICE_MIN_CENTS`,
    /// `DIRECTORY_PRICE_MAX_CENTS`).
    public var priceRange: ClosedRange<Int>
    /// How long an online advisor stays online without a heartbeat (`DIRECTORY_PRESENCE_GRACE_SECONDS`).
    public var presenceGraceSeconds: Int
    /// The hosts a profile photo may be served from, over https (`DIRECTORY_PHOTO_HOSTS`).
    public var photoHosts: Set<String>
    /// How long a search answer is reused for identical searches (`DIRECTORY_SEARCH_CACHE_MILLISECONDS`; 0: never).
    public var searchCacheMilliseconds: Int
    /// Whether an empty directory is filled with demo advisors at start-up (`DIRECTORY_DEMO_DATA`;
    /// the local run turns it on, production configurations never do).
    public var demoData: Bool

    public init(
        priceRange: ClosedRange<Int> = 99...4999, presenceGraceSeconds: Int = 60,
        photoHosts: Set<String> = ["images.advisor-platform.example"], searchCacheMilliseconds: Int = 500,
        demoData: Bool = false
    ) {
        self.priceRange = priceRange
        self.presenceGraceSeconds = presenceGraceSeconds
        self.photoHosts = photoHosts
        self.searchCacheMilliseconds = searchCacheMilliseconds
        self.demoData = demoData
    }

    /// Reads the `DIRECTORY_*` variables; every problem is named by the reader.
    public static func read(_ reader: inout ConfigReader) -> DirectorySettings {
        let defaults = DirectorySettings()
        let low = reader.int("DIRECTORY_PRICE_MIN_CENTS", default: defaults.priceRange.lowerBound, in: 1...100_000)
        let high = reader.int("DIRECTORY_PRICE_MAX_CENTS", default: defaults.priceRange.upperBound, in: 1...100_000)
        if low > high { reader.problem("DIRECTORY_PRICE_MIN_CENTS must not be above DIRECTORY_PRICE_MAX_CENTS") }
        let grace = reader.int("DIRECTORY_PRESENCE_GRACE_SECONDS", default: defaults.presenceGraceSeconds, in: 1...3600)
        var hosts = Set(reader.list("DIRECTORY_PHOTO_HOSTS").map { $0.lowercased() })
        if reader.raw("DIRECTORY_PHOTO_HOSTS") == nil { hosts = defaults.photoHosts }
        let cache = reader.int("DIRECTORY_SEARCH_CACHE_MILLISECONDS", default: defaults.searchCacheMilliseconds, in: 0...5000)
        let demo = reader.choice("DIRECTORY_DEMO_DATA", default: "0", from: ["0", "1"]) == "1"
        return DirectorySettings(
            priceRange: low...max(low, high), presenceGraceSeconds: grace, photoHosts: hosts, searchCacheMilliseconds: cache,
            demoData: demo)
    }
}
