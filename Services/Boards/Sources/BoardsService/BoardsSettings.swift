public import ServiceKit

/// What the boards need beyond the settings every worker service has.
public struct BoardsSettings: Sendable {
    /// Days on the boards (since their first read, or their acknowledgement if earlier) before
    /// someone is no longer new (tier 0) (`BOARDS_NEW_DAYS`), unless a moderator set their tier.
    public var newDays: Int
    /// Threads someone must have opened while signed in before they are no longer new
    /// (`BOARDS_TRUST_THREADS_READ`), as well as their days on the boards.
    public var trustThreadsRead: Int
    /// Threads and replies a new person may post in 24 hours (`BOARDS_NEW_POSTS_PER_DAY`).
    public var newPostsPerDay: Int
    /// Links a new person's post may hold (`BOARDS_NEW_LINKS_PER_POST`); images none.
    public var newLinksPerPost: Int
    /// Links anyone else's post may hold (`BOARDS_LINKS_PER_POST`).
    public var linksPerPost: Int
    /// The weight of flags that hides a post until a moderator looks (`BOARDS_HIDE_WEIGHT`): a
    /// new person's flag weighs 1, anyone else's 2, both times how often their flags were upheld.
    public var hideWeight: Double
    /// Flags one person may raise in 24 hours (`BOARDS_FLAGS_PER_DAY`).
    public var flagsPerDay: Int
    /// Posts hidden by moderators in 30 days that silence their author (`BOARDS_SILENCE_AFTER`).
    public var silenceAfter: Int
    /// How long an author is silenced (`BOARDS_SILENCE_HOURS`).
    public var silenceHours: Int
    /// Whether empty boards get a few demo threads at start-up (`BOARDS_DEMO_DATA`; the local
    /// run turns it on, production configurations never do).
    public var demoData: Bool

    public init(
        newDays: Int = 2, trustThreadsRead: Int = 5, newPostsPerDay: Int = 10, newLinksPerPost: Int = 2, linksPerPost: Int = 20, hideWeight: Double = 3,
        flagsPerDay: Int = 20, silenceAfter: Int = 3, silenceHours: Int = 24, demoData: Bool = false
    ) {
        self.newDays = newDays
        self.trustThreadsRead = trustThreadsRead
        self.newPostsPerDay = newPostsPerDay
        self.newLinksPerPost = newLinksPerPost
        self.linksPerPost = linksPerPost
        self.hideWeight = hideWeight
        self.flagsPerDay = flagsPerDay
        self.silenceAfter = silenceAfter
        self.silenceHours = silenceHours
        self.demoData = demoData
    }

    /// Reads the `BOARDS_*` variables; every problem is named by the reader.
    public static func read(_ reader: inout ConfigReader) -> BoardsSettings {
        let defaults = BoardsSettings()
        return BoardsSettings(
            newDays: reader.int("BOARDS_NEW_DAYS", default: defaults.newDays, in: 0...365),
            trustThreadsRead: reader.int("BOARDS_TRUST_THREADS_READ", default: defaults.trustThreadsRead, in: 0...1000),
            newPostsPerDay: reader.int("BOARDS_NEW_POSTS_PER_DAY", default: defaults.newPostsPerDay, in: 1...10_000),
            newLinksPerPost: reader.int("BOARDS_NEW_LINKS_PER_POST", default: defaults.newLinksPerPost, in: 0...100),
            linksPerPost: reader.int("BOARDS_LINKS_PER_POST", default: defaults.linksPerPost, in: 0...1000),
            hideWeight: Double(reader.int("BOARDS_HIDE_WEIGHT", default: Int(defaults.hideWeight), in: 1...1000)),
            flagsPerDay: reader.int("BOARDS_FLAGS_PER_DAY", default: defaults.flagsPerDay, in: 1...10_000),
            silenceAfter: reader.int("BOARDS_SILENCE_AFTER", default: defaults.silenceAfter, in: 1...1000),
            silenceHours: reader.int("BOARDS_SILENCE_HOURS", default: defaults.silenceHours, in: 1...8760),
            demoData: reader.choice("BOARDS_DEMO_DATA", default: "0", from: ["0", "1"]) == "1")
    }
}
