public import Foundation

extension Date: SQLEncodable, SQLDecodable {
    /// RFC 3339 in UTC with microseconds (`2024-05-01T12:30:00.250000Z`), `timestamptz`'s precision.
    public var sqlText: String? { SQLTimestamp.format(self) }

    /// Reads `timestamptz` (any offset), `timestamp` (taken as UTC) or `date` (midnight UTC) text;
    /// `infinity` and `-infinity` read as `distantFuture` and `distantPast`.
    public init(sqlText: String) throws {
        self = try SQLTimestamp.parse(sqlText)
    }
}

/// Conversion between `Date` and PostgreSQL's ISO timestamp text, in whole microseconds.
///
/// Written out by hand (proleptic Gregorian day arithmetic) rather than with a formatter so it is
/// exact to the microsecond, allocation-light and safe on any thread.
enum SQLTimestamp {
    private static let microsPerSecond: Int64 = 1_000_000
    private static let microsPerDay: Int64 = 86_400 * 1_000_000

    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        // Beyond ±300,000 years PostgreSQL has no such timestamp; infinity is the honest answer.
        guard seconds.isFinite, abs(seconds) < 1e13 else { return seconds < 0 ? "-infinity" : "infinity" }
        let micros = Int64((seconds * Double(microsPerSecond)).rounded())
        let days = floorDivide(micros, microsPerDay)
        let timeOfDay = micros - days * microsPerDay
        let (year, month, day) = civil(fromDays: days)
        let second = timeOfDay / microsPerSecond
        let fraction = timeOfDay % microsPerSecond
        let era = year <= 0 ? " BC" : ""
        let displayYear = year <= 0 ? 1 - year : year
        return "\(pad(displayYear, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(second / 3600, 2)):\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2)).\(pad(fraction, 6))Z\(era)"
    }

    static func parse(_ text: String) throws -> Date {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        var scanner = Scanner(Array(text.utf8))
        guard let micros = scanner.timestamp() else {
            throw StoreError.decodingFailed.with(context: "column text is not a valid timestamp")
        }
        return Date(timeIntervalSince1970: Double(micros) / Double(microsPerSecond))
    }

    /// Reads `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]][Z|±HH[:MM[:SS]]][ BC]` into microseconds since 1970 UTC.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func timestamp() -> Int64? {
            guard let rawYear = number(minDigits: 4, maxDigits: 7), skip("-"),
                let month = number(minDigits: 2, maxDigits: 2), skip("-"),
                let day = number(minDigits: 2, maxDigits: 2),
                (1...12).contains(month), (1...31).contains(day)
            else { return nil }
            var timeOfDay: Int64 = 0
            if skip(" ") || skip("T") {
                guard let hour = number(minDigits: 2, maxDigits: 2), skip(":"),
                    let minute = number(minDigits: 2, maxDigits: 2), skip(":"),
                    let second = number(minDigits: 2, maxDigits: 2),
                    hour <= 24, minute < 60, second < 61
                else { return nil }
                timeOfDay = ((hour * 60 + minute) * 60 + second) * microsPerSecond
                if skip(".") {
                    var scale = microsPerSecond / 10
                    var sawDigit = false
                    while let digit = digit() {
                        timeOfDay += digit * scale
                        scale /= 10
                        sawDigit = true
                    }
                    guard sawDigit else { return nil }
                }
                if !skip("Z"), let sign = sign() {
                    guard let offsetHours = number(minDigits: 2, maxDigits: 2) else { return nil }
                    var offset = offsetHours * 3600
                    if skip(":") || peekDigit() {
                        guard let offsetMinutes = number(minDigits: 2, maxDigits: 2) else { return nil }
                        offset += offsetMinutes * 60
                        if skip(":") || peekDigit() {
                            guard let offsetSeconds = number(minDigits: 2, maxDigits: 2) else { return nil }
                            offset += offsetSeconds
                        }
                    }
                    timeOfDay -= sign * offset * microsPerSecond
                }
            }
            let year = skip(" BC") ? 1 - rawYear : rawYear
            guard index == bytes.count else { return nil }
            return days(fromCivil: year, month, day) * microsPerDay + timeOfDay
        }

        private mutating func skip(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
                return false
            }
            index += count
            return true
        }

        private mutating func sign() -> Int64? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }

        private func peekDigit() -> Bool {
            index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
        }

        private mutating func digit() -> Int64? {
            guard peekDigit() else { return nil }
            defer { index += 1 }
            return Int64(bytes[index] - UInt8(ascii: "0"))
        }

        private mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var count = 0
            while count < maxDigits, let digit = digit() {
                value = value * 10 + digit
                count += 1
            }
            return count >= minDigits ? value : nil
        }
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func floorDivide(_ lhs: Int64, _ rhs: Int64) -> Int64 {
        let quotient = lhs / rhs
        return (lhs % rhs != 0 && (lhs < 0) != (rhs < 0)) ? quotient - 1 : quotient
    }

    /// Year, month, day for days since 1970-01-01 (H. Hinnant's `civil_from_days`; year 0 is 1 BC).
    private static func civil(fromDays dayCount: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = dayCount + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
