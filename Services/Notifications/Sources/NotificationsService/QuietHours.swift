import Foundation

/// When a non-urgent notice may go out: quiet hours hold it until they end, in the person's own
/// time zone, overnight windows (22:00–07:00) included.
struct QuietWindow: Sendable, Equatable {
    /// Minutes after local midnight.
    let start: Int
    let end: Int
    let timeZone: TimeZone

    /// nil for values that are not `HH:MM` and an IANA zone (checked when they were saved).
    init?(start: String, end: String, timeZone: String) {
        guard let start = Self.minutes(start), let end = Self.minutes(end), start != end, let zone = TimeZone(identifier: timeZone) else {
            return nil
        }
        self.start = start
        self.end = end
        self.timeZone = zone
    }

    /// `date` itself when it falls outside the window; else the moment the window ends.
    func release(_ date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let now = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let inside = start < end ? (now >= start && now < end) : (now >= start || now < end)
        guard inside else { return date }
        // The next local time `end` after `date` (today or tomorrow), whatever daylight saving does.
        let endParts = DateComponents(hour: end / 60, minute: end % 60, second: 0)
        return calendar.nextDate(after: date, matching: endParts, matchingPolicy: .nextTime) ?? date
    }

    private static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...23).contains(hours), (0...59).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }
}
