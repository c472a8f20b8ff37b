// Counts what withoutActuallyEscaping costs (RESULTS, issue 24): swiftc -O bench/without-actually-escaping.swift -o /tmp/wae && valgrind /tmp/wae A|C|E|F
// A: stored in a class property and called, C: through a pointer slot, E: only called inside it, F: called directly.
final class Holder { var job: ((Int) -> Void)? ; var slot = UnsafeMutablePointer<(Int) -> Void>.allocate(capacity: 1) }
let h = Holder()
@inline(never) func variantA(_ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { b in h.job = b; h.job!(1); h.job = nil }
}
@inline(never) func variantC(_ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { b in h.slot.initialize(to: b); h.slot.pointee(1); h.slot.deinitialize(count: 1) }
}
@inline(never) func variantE(_ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { b in b(1) }
}
var total = 0
let which = CommandLine.arguments[1]
for i in 0..<1000 {
    let captured = i
    switch which {
    case "A": variantA { total += $0 + captured }
    case "C": variantC { total += $0 + captured }
    case "F": variantF { total += $0 + captured }
    default: variantE { total += $0 + captured }
    }
}
print(total)
@inline(never) func variantF(_ body: (Int) -> Void) { body(1) }
