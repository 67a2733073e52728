import Foundation
import PlatformSecurity
import Testing

/// Decodes a hex literal from a published test vector.
func bytes(_ hex: String) throws -> Data {
    try #require(Hex.decode(hex), "not hex: \(hex)")
}

/// `data` with bit 0 of the byte at `offset` flipped.
func flippingBit(of data: Data, at offset: Int) -> Data {
    var copy = Data(data)
    copy[copy.startIndex + offset] ^= 0x01
    return copy
}
