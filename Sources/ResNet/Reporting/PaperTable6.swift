/// The paper's Table 6: CIFAR-10 test error (%) of its option-A ResNets, trained 64k iterations
/// on the original images (ResNet-110: the best of 5 runs; their mean was 6.61 +- 0.16).
public enum PaperTable6 {
    public static let testErrorByNetwork: [String: Double] = [
        "resnet20/A": 8.75, "resnet32/A": 7.51, "resnet44/A": 7.17,
        "resnet56/A": 6.97, "resnet110/A": 6.43, "resnet1202/A": 7.93,
    ]

    /// The paper's test error for a run's network (`resnet56/A` as run-config.json names it),
    /// nil for a network Table 6 does not list (plain nets, option B, ImageNet).
    public static func testError(of architecture: String?) -> Double? {
        architecture.flatMap { testErrorByNetwork[$0] }
    }
}
