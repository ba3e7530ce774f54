def main(argv=None):
    print("kubedeck")
    return 0
